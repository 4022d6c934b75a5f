import Testing
@testable import OpsConfig

@Suite struct ConfigTests {
    @Test func defaultsWhenNothingIsSet() throws {
        #expect(try Config.from(environment: [:]) == Config.defaults)
    }

    @Test func readsEveryVariable() throws {
        let c = try Config.from(environment: [
            "OPS_DATABASE_URL": "postgresql://u:p@127.0.0.1:5555/db", "OPS_FCGI_SOCKET": "/tmp/s.sock",
            "OPS_FCGI_THREADS": "8", "OPS_FCGI_BACKLOG": "64", "OPS_MAX_BODY_BYTES": "2048",
            "OPS_LOG_LEVEL": "DEBUG", "OPS_DB_CONNECT_TIMEOUT_S": "7", "OPS_DB_STATEMENT_TIMEOUT_MS": "0",
            "OPS_MIGRATIONS_DIR": "/m", "OPS_SHUTDOWN_GRACE_S": "4",
        ])
        #expect(c.databaseURL == "postgresql://u:p@127.0.0.1:5555/db")
        #expect(c.fcgiSocket == "/tmp/s.sock")
        #expect(c.fcgiThreads == 8)
        #expect(c.fcgiBacklog == 64)
        #expect(c.maxBodyBytes == 2048)
        #expect(c.logLevel == "debug")
        #expect(c.dbConnectTimeoutSeconds == 7)
        #expect(c.dbStatementTimeoutMillis == 0)
        #expect(c.migrationsDirectory == "/m")
        #expect(c.shutdownGraceSeconds == 4)
    }

    @Test func emptyValueMeansDefault() throws {
        #expect(try Config.from(environment: ["OPS_FCGI_THREADS": ""]).fcgiThreads == Config.defaults.fcgiThreads)
    }

    @Test(arguments: [("OPS_FCGI_THREADS", "zero"), ("OPS_FCGI_THREADS", "0"), ("OPS_MAX_BODY_BYTES", "-1"),
                      ("OPS_LOG_LEVEL", "loud"), ("OPS_SHUTDOWN_GRACE_S", "99999")])
    func invalidValueNamesTheVariable(_ name: String, _ value: String) {
        do {
            _ = try Config.from(environment: [name: value])
            Issue.record("\(name)=\(value) was accepted")
        } catch {
            #expect(error.variable == name)
            #expect(error.description.contains(value))
        }
    }
}

@Suite struct ConfigSecretTests {
    @Test(arguments: ["OPS_SESSION_SECRET", "OPS_JWT_HS256_SECRET"])
    func shortSecretsAreRefusedWithoutShowingThem(_ name: String) {
        do {
            _ = try Config.from(environment: [name: "too-short-secret"])
            Issue.record("a 16-character \(name) was accepted")
        } catch {
            #expect(error.variable == name)
            #expect(!error.description.contains("too-short-secret"), "the error message must not print the secret")
        }
    }

    @Test func longSecretsAreKept() throws {
        let s = String(repeating: "k", count: 32)
        let c = try Config.from(environment: ["OPS_SESSION_SECRET": s, "OPS_JWT_HS256_SECRET": s])
        #expect(c.sessionSecret == s && c.jwtSecret == s)
    }

    @Test func readsTheMonitorVariables() throws {
        let c = try Config.from(environment: [
            "OPS_MONITOR_CONFIG": "/etc/opsplane/monitor.json", "OPS_MONITOR_LOCK": "m2",
            "OPS_DASHBOARD_URL": "https://ops.example.com/admin/ops/", "OPS_RETENTION_DAYS": "30",
            "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/secret", "DISCORD_ENABLE_ALERTS": "TRUE",
            "DISCORD_DAILY_DIGEST_CRON": "30 7 * * 1-5",
        ])
        #expect(c.monitorConfigPath == "/etc/opsplane/monitor.json")
        #expect(c.monitorLockName == "m2")
        #expect(c.dashboardURL == "https://ops.example.com/admin/ops/")
        #expect(c.retentionDays == 30)
        #expect(c.discordWebhookURL == "https://discord.com/api/webhooks/1/secret")
        #expect(c.discordEnableAlerts)
        #expect(c.discordDigestCron == "30 7 * * 1-5")
        #expect(try Config.from(environment: ["DISCORD_ENABLE_ALERTS": "off"]).discordEnableAlerts == false)
        #expect(Config.defaults.discordEnableAlerts == false)
    }

    @Test func aBadWebhookURLIsRefusedWithoutPrintingIt() {
        do {
            _ = try Config.from(environment: ["DISCORD_WEBHOOK_URL": "discord.com/api/webhooks/1/topsecret"])
            Issue.record("a URL without a scheme was accepted")
        } catch {
            #expect(error.variable == "DISCORD_WEBHOOK_URL")
            #expect(!error.description.contains("topsecret"))
        }
        #expect(throws: Config.Invalid.self) { try Config.from(environment: ["DISCORD_ENABLE_ALERTS": "maybe"]) }
        #expect(throws: Config.Invalid.self) { try Config.from(environment: ["OPS_RETENTION_DAYS": "0"]) }
    }
}
