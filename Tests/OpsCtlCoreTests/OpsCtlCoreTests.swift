import Foundation
import OpsCtlCore
import OpsJSON
import Testing

@Suite struct ExitStatusTests {
    @Test func httpStatusesMapToDocumentedExitCodes() {
        #expect(ExitStatus.forHTTPStatus(200) == .ok)
        #expect(ExitStatus.forHTTPStatus(204) == .ok)
        #expect(ExitStatus.forHTTPStatus(401) == .auth)
        #expect(ExitStatus.forHTTPStatus(403) == .auth)
        #expect(ExitStatus.forHTTPStatus(404) == .notFound)
        #expect(ExitStatus.forHTTPStatus(500) == .server)
        #expect(ExitStatus.forHTTPStatus(501) == .server)
        #expect(ExitStatus.forHTTPStatus(502) == .server)
        #expect(ExitStatus.forHTTPStatus(503) == .server)
        #expect(ExitStatus.forHTTPStatus(400) == .failure)
        #expect(ExitStatus.forHTTPStatus(409) == .failure)
        #expect(ExitStatus.forHTTPStatus(429) == .failure)
        #expect(ExitStatus.forHTTPStatus(413) == .failure)
    }

    @Test func exitCodeValuesAreTheContract() {
        #expect(ExitStatus.ok.rawValue == 0)
        #expect(ExitStatus.failure.rawValue == 1)
        #expect(ExitStatus.usage.rawValue == 2)
        #expect(ExitStatus.auth.rawValue == 3)
        #expect(ExitStatus.notFound.rawValue == 4)
        #expect(ExitStatus.server.rawValue == 5)
        // The help text documents every one of them.
        for s in ExitStatus.allCases { #expect(ExitStatus.table.contains("\(s.rawValue)  ")) }
    }

    @Test func tickerCloseCodes() {
        #expect(ExitStatus.forCloseCode(4401) == .auth)
        #expect(ExitStatus.forCloseCode(4403) == .auth)
        #expect(ExitStatus.forCloseCode(1001) == nil)
        #expect(ExitStatus.forCloseCode(4408) == nil)
    }

    @Test func errorEnvelopeGivesMessageAndCode() {
        let body = Array(#"{"error":{"code":"unknown_service","message":"No log service 'x'."}}"#.utf8)
        let f = Failure.fromResponse(status: 404, body: body, contentType: "application/json")
        #expect(f.status == .notFound)
        #expect(f.code == "unknown_service")
        #expect(f.line() == "opsctl: No log service 'x'. (unknown_service)")
        #expect(f.httpStatus == 404)
    }

    @Test func nonJSONErrorsStillGetALineAndAnExitCode() {
        let html = Failure.fromResponse(status: 502, body: Array("<html>bad gateway</html>".utf8), contentType: "text/html")
        #expect(html.status == .server)
        #expect(html.code == "http_502")
        #expect(html.line() == "opsctl: HTTP 502 Bad Gateway (http_502)")
        let text = Failure.fromResponse(status: 418, body: Array("short and stout\n".utf8), contentType: "text/plain")
        #expect(text.status == .failure)
        #expect(text.line() == "opsctl: HTTP 418 : short and stout (http_418)")
    }

    @Test func transportFailuresAreServerErrors() {
        let refused = Failure.transport("Failed to connect to 127.0.0.1 port 1: Couldn't connect to server", timedOut: false, url: "http://127.0.0.1:1")
        #expect(refused.status == .server)
        #expect(refused.code == "unreachable")
        #expect(Failure.transport("Operation timed out after 200 ms", timedOut: true, url: "u").code == "timeout")
        #expect(Failure.transport("SSL certificate problem: self-signed certificate", timedOut: false, url: "u").code == "tls")
        #expect(Failure.transport("Could not resolve host: nowhere", timedOut: false, url: "u").code == "dns")
        #expect(Failure.transport("SSL certificate problem", timedOut: false, url: "u").status == .server)
    }
}

@Suite struct RedactorTests {
    let token = "ops_" + String(repeating: "ab12", count: 16)

    @Test func apiTokensAreRedactedAnywhere() {
        let text = "refused ops_\(String(repeating: "9f", count: 32)) at \(token)!"
        let out = Redactor.redact(text)
        #expect(!out.contains("9f9f"))
        #expect(!out.contains("ab12"))
        #expect(out == "refused ops_[redacted] at ops_[redacted]!")
    }

    @Test func ordinaryOpsWordsStay() {
        // Topic, cookie and column names are not tokens.
        let text = "topic ops:events, cookie ops_session, table ops_events, env OPS_URL"
        #expect(Redactor.redact(text) == text)
    }

    @Test func theSecretInUseIsRedactedWhateverItsForm() {
        let odd = "s3cr3t-value-without-prefix"
        #expect(Redactor.redact("token \(odd) refused", secrets: [odd]) == "token [redacted] refused")
    }

    @Test func bearerCredentialsAndJWTsAreRedacted() {
        #expect(Redactor.redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer [redacted]")
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
        #expect(Redactor.redact("jwt=\(jwt) end") == "jwt=[redacted] end")
    }

    @Test func oneLineHasNoControlCharacters() {
        let f = Failure(.failure, code: "x", "first\nsecond\r\u{1b}[31mred\t\(token)")
        let line = f.line(secrets: [token])
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1b}"))
        #expect(!line.contains("ab12ab12"))
        #expect(line.hasPrefix("opsctl: first second"))
        #expect(line.hasSuffix("(x)"))
    }
}

@Suite struct PlainTableTests {
    @Test func columnsAlignWithAHeaderRow() {
        var t = PlainTable(headers: ["NAME", "RUNS", "OWNER"], rightAligned: [1])
        t.add(["a", "5", "x@example.com"])
        t.add(["longer-name", "12345", "y"])
        #expect(t.render() == """
            NAME          RUNS  OWNER
            a                5  x@example.com
            longer-name  12345  y

            """)
    }

    @Test func noTrailingSpacesAndMissingCellsAreEmpty() {
        var t = PlainTable(headers: ["A", "B"])
        t.add(["xxxx"])
        for line in t.render().split(separator: "\n") { #expect(line.last != " ") }
        #expect(t.render() == "A     B\nxxxx\n")
    }

    @Test func cellsCannotBreakRowsOrSendEscapes() {
        var t = PlainTable(headers: ["MESSAGE", "N"])
        t.add(["line1\nline2\u{1b}[2J\u{202e}", "1"])
        let out = t.render()
        #expect(out.split(separator: "\n").count == 2)
        #expect(!out.contains("\u{1b}"))
        #expect(!out.contains("\u{202e}"))
        #expect(out.contains("line1\\nline2"))
    }

    @Test func wideCharactersCountTwice() {
        #expect(PlainTable.width("abc") == 3)
        #expect(PlainTable.width("日本") == 4)
        var t = PlainTable(headers: ["X", "Y"])
        t.add(["日本", "1"])
        t.add(["abcd", "2"])
        let lines = t.render().split(separator: "\n").map(String.init)
        #expect(lines[1] == "日本  1")
        #expect(lines[2] == "abcd  2")
    }

    @Test func keyValueBlockAligns() {
        var kv = KeyValueBlock()
        kv.add("runs today", "5")
        kv.add("cost", "$1")
        #expect(kv.render() == "runs today  5\ncost        $1\n")
    }

    @Test func numbersHaveNoExponentOrNeedlessDigits() {
        #expect(PlainViews.number(3) == "3")
        #expect(PlainViews.number(0.203129) == "0.203129")
        #expect(PlainViews.number(0.00001) == "0.00001")
        #expect(PlainViews.number(20884.6) == "20884.6")
        #expect(PlainViews.number(-1.5) == "-1.5")
        #expect(PlainViews.text(.null) == "-")
        #expect(PlainViews.text(nil) == "-")
        #expect(PlainViews.text(["a", "b"]) == "a, b")
    }
}

@Suite struct PlainViewTests {
    @Test func summaryShowsKPIsAndTopAgents() throws {
        let answer = try JSON.parse("""
            {"runs_today":27,"cost_today_usd":null,
             "budget_user":{"user_id":"user-59","limit_cents":100,"used_usd":0.5,"percent":50},
             "budget_global":{"limit_cents":0,"used_usd":0.2,"percent":null},
             "active_users_24h":60,"agents_total":36,"agents_scheduled":12,
             "latency_ms":{"p50":4533,"p95":null},"errors_last_hour":0,
             "top_agents_today":[{"agent_id":"agent-1","name":"Triage 1","owner_email":"o@example.com","runs":6,"cost_usd":null,"p95_ms":24261.25}]}
            """)
        let out = PlainViews.summary(answer)
        #expect(out.contains("runs today         27\n"))
        #expect(out.contains("cost today         unknown\n"))
        #expect(out.contains("budget per user    user-59: $0.5 used of $1 (50 %)\n"))
        #expect(out.contains("budget global      $0.2 used, no limit\n"))
        #expect(out.contains("latency p50 / p95  4533 ms / -\n"))
        #expect(out.contains("AGENT    NAME      OWNER          RUNS  COST_USD    P95_MS\n"))
        #expect(out.contains("agent-1  Triage 1  o@example.com     6         -  24261.25\n"))
    }

    @Test func topByKind() throws {
        let users = try JSON.parse(#"[{"user_id":"u-1","runs":3,"cost_usd":0.5},{"user_id":"u-22","runs":12,"cost_usd":null}]"#)
        #expect(PlainViews.top(users, kind: "users") == "USER  RUNS  COST_USD\nu-1      3       0.5\nu-22    12         -\n")
        #expect(PlainViews.top(.array([]), kind: "models").hasSuffix("(none)\n"))
    }

    @Test func timeseriesHasBars() throws {
        let points = try JSON.parse(#"[{"hour_iso":"00:00Z","value":2},{"hour_iso":"01:00Z","value":0},{"hour_iso":"02:00Z","value":4}]"#)
        let lines = PlainViews.timeseries(points, barWidth: 4).split(separator: "\n").map(String.init)
        #expect(lines == ["HOUR    VALUE", "00:00Z      2  ##", "01:00Z      0", "02:00Z      4  ####"])
        let daily = try JSON.parse(#"[{"date":"2026-11-21","value":1.5}]"#)
        #expect(PlainViews.timeseries(daily).hasPrefix("DATE"))
    }

    @Test func healthListsModules() throws {
        let answer = try JSON.parse("""
            {"status":"degraded","timestamp":"2026-11-22T04:00:00Z",
             "modules":{"postgres":{"status":"healthy","response_time_ms":1.5,"error_count":0},
                        "redis":{"status":"down","response_time_ms":null,"error_count":3}},
             "counts":{"healthy":1,"down":1},"warnings":["redis: connection refused"]}
            """)
        let out = PlainViews.health(answer)
        #expect(out.contains("status     degraded\n"))
        #expect(out.contains("MODULE    STATUS   RESPONSE_MS  ERRORS  TREND  CHECKED\n"))
        #expect(out.contains("postgres  healthy          1.5       0  -      -\n"))
        #expect(out.contains("redis     down               -       3  -      -\n"))
        #expect(out.contains("warning: redis: connection refused\n"))
    }

    @Test func alertsTable() throws {
        let answer = try JSON.parse("""
            {"alerts":[{"id":7,"rule":"service_down","severity":"critical","state":"firing","service":"redis",
              "title":"redis is down","value":null,"threshold":null,"first_fired_at":"2026-11-22T03:00:00Z",
              "last_fired_at":"2026-11-22T04:00:00Z","fire_count":3}],"counts":{"firing":1}}
            """)
        let out = PlainViews.alerts(answer)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines[0] == "ID  SEVERITY  STATE   SERVICE  RULE          TITLE          VALUE  THRESHOLD  FIRES  LAST_FIRED")
        #expect(lines[1] == " 7  critical  firing  redis    service_down  redis is down      -          -      3  2026-11-22T04:00:00Z")
        #expect(out.hasSuffix("firing 1\n"))
    }

    @Test func logLinesHaveFixedColumns() throws {
        let a = PlainViews.logLine(try JSON.parse(#"{"ts":"2026-11-22T04:00:00.123Z","level":"info","message":"hello\nworld"}"#))
        let b = PlainViews.logLine(try JSON.parse(#"{"ts":null,"level":"error","message":"x"}"#))
        #expect(a == "2026-11-22T04:00:00.123Z    info   hello\\nworld\n")
        #expect(b == "-                           error  x\n")
        // The message column starts at the same place in the header and in every line.
        let column = PlainViews.logHeader.range(of: "MESSAGE")!.lowerBound.utf16Offset(in: PlainViews.logHeader)
        #expect(a.utf16.count > column && Array(a)[column] == "h")
        #expect(Array(b)[column] == "x")
    }

    @Test func flattenedNestedObjects() throws {
        let answer = try JSON.parse(#"{"deploy":{"version":"0.1.0","migrations":{"pending":[]}},"alerts":[{"id":1}]}"#)
        #expect(PlainViews.flattened(answer) == """
            deploy.version             0.1.0
            deploy.migrations.pending  -
            alerts[0].id               1

            """)
    }
}

@Suite struct ConfigTests {
    @Test func pathFollowsXDG() {
        #expect(ConfigFile.path(environment: ["XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/a"]) == "/x/cfg/opsctl/config.json")
        #expect(ConfigFile.path(environment: ["HOME": "/home/a"]) == "/home/a/.config/opsctl/config.json")
        #expect(ConfigFile.path(environment: ["XDG_CONFIG_HOME": "relative", "HOME": "/home/a"]) == "/home/a/.config/opsctl/config.json")
        #expect(ConfigFile.path(environment: [:]) == nil)
    }

    @Test func permissionCheck() {
        #expect(ConfigFile.permissionProblem(path: "p", mode: 0o100600, owner: 1000, me: 1000) == nil)
        #expect(ConfigFile.permissionProblem(path: "p", mode: 0o100400, owner: 1000, me: 1000) == nil)
        for mode: UInt32 in [0o100644, 0o100640, 0o100604, 0o100660, 0o100602] {
            let problem = ConfigFile.permissionProblem(path: "p", mode: mode, owner: 1000, me: 1000)
            #expect(problem?.status == .auth)
            #expect(problem?.code == "config_permissions")
            #expect(problem?.message.contains("chmod 600 p") == true)
        }
        #expect(ConfigFile.permissionProblem(path: "p", mode: 0o100600, owner: 0, me: 1000)?.code == "config_permissions")
    }

    @Test func saveWritesMode0600AndLoadReadsIt() throws {
        let dir = NSTemporaryDirectory() + "opsctl-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sub/opsctl/config.json"
        let config = StoredConfig(url: "https://ops.example.com", token: "ops_" + String(repeating: "0", count: 64))
        try ConfigFile.save(config, path: path)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let dirAttrs = try FileManager.default.attributesOfItem(atPath: dir + "/sub/opsctl")
        #expect((dirAttrs[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(try ConfigFile.load(path: path) == config)
        // Saving again replaces it, still 0600.
        try ConfigFile.save(StoredConfig(url: "https://other", token: "t"), path: path)
        #expect(try ConfigFile.load(path: path)?.url == "https://other")
        // Readable by others: refused with the auth exit status.
        chmod(path, 0o644)
        #expect(throws: Failure.self) { try ConfigFile.load(path: path) }
        do {
            _ = try ConfigFile.load(path: path)
        } catch let f as Failure {
            #expect(f.status == .auth)
            #expect(f.code == "config_permissions")
        }
        #expect(try ConfigFile.load(path: dir + "/missing.json") == nil)
    }

    @Test func settingsPrecedence() throws {
        let stored = StoredConfig(url: "https://ops.example.com/", token: "stored-token", cacert: "/ca.pem")
        // Flags over environment over file.
        var s = try Settings.resolve(urlFlag: "https://flag.example.com", tokenFlag: "flag-token", caFlag: nil,
                                     environment: ["OPSCTL_URL": "https://env", "OPSCTL_TOKEN": "env-token"]) { stored }
        #expect(s.url == "https://flag.example.com")
        #expect(s.token == "flag-token")
        #expect(s.tokenSource == .flag)
        s = try Settings.resolve(urlFlag: nil, tokenFlag: nil, caFlag: nil,
                                 environment: ["OPSCTL_URL": "https://ENV.example.com/", "OPSCTL_TOKEN": "env-token"]) { nil }
        #expect(s.url == "https://env.example.com")
        #expect(s.token == "env-token")
        // Only the file: its URL, token and CA.
        s = try Settings.resolve(urlFlag: nil, tokenFlag: nil, caFlag: nil, environment: [:]) { stored }
        #expect(s.url == "https://ops.example.com")
        #expect(s.token == "stored-token")
        #expect(s.tokenSource == .configFile)
        #expect(s.caFile == "/ca.pem")
        // The stored token never goes to another server.
        s = try Settings.resolve(urlFlag: nil, tokenFlag: nil, caFlag: nil, environment: ["OPSCTL_URL": "http://127.0.0.1:9"]) { stored }
        #expect(s.token == nil)
        #expect(s.caFile == nil)
        #expect(throws: Failure.self) { try s.requireToken() }
        // Env URL and token: the file is not needed, so an unusable one does not matter.
        s = try Settings.resolve(urlFlag: nil, tokenFlag: nil, caFlag: "/x.pem",
                                 environment: ["OPSCTL_URL": "http://a", "OPSCTL_TOKEN": "t"]) {
            throw Failure(.auth, code: "config_permissions", "unsafe")
        }
        #expect(s.token == "t")
        // But when the token must come from it, its problem is the answer.
        #expect(throws: Failure.self) {
            try Settings.resolve(urlFlag: nil, tokenFlag: nil, caFlag: nil, environment: ["OPSCTL_URL": "http://a"]) {
                throw Failure(.auth, code: "config_permissions", "unsafe")
            }
        }
    }

    @Test func missingTokenAndURLFailures() throws {
        let s = try Settings.resolve(urlFlag: "http://a", tokenFlag: nil, caFlag: nil, environment: [:]) { nil }
        do {
            _ = try s.requireToken()
            Issue.record("requireToken should fail")
        } catch let f as Failure {
            #expect(f.status == .auth)
            #expect(f.code == "no_token")
        }
        do {
            _ = try Settings.resolve(urlFlag: nil, tokenFlag: "t", caFlag: nil, environment: [:]) { nil }
            Issue.record("resolve should fail without a URL")
        } catch let f as Failure {
            #expect(f.status == .usage)
            #expect(f.code == "no_url")
        }
    }
}

@Suite struct ServerURLTests {
    @Test func normalize() throws {
        #expect(try ServerURL.normalize("HTTPS://Ops.Example.com/") == "https://ops.example.com")
        #expect(try ServerURL.normalize(" http://127.0.0.1:8080 ") == "http://127.0.0.1:8080")
        #expect(try ServerURL.normalize("https://example.com/ops/") == "https://example.com/ops")
        for bad in ["ftp://x", "example.com", "http://", "http://u:p@x", "http://x?y=1", "http://x:99999", "http://x/../y"] {
            #expect(throws: Failure.self) { try ServerURL.normalize(bad) }
        }
    }

    @Test func credentialsInABadURLAreNotEchoed() {
        do {
            _ = try ServerURL.normalize("http://ops_\(String(repeating: "a", count: 64))@host")
        } catch let f as Failure {
            #expect(!f.line().contains("aaaaaaaa"))
            #expect(f.status == .usage)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func parts() throws {
        let u = try ServerURL("https://ops.example.com/prefix")
        #expect(u.tls && u.host == "ops.example.com" && u.port == 443 && u.prefix == "/prefix")
        #expect(u.hostHeader == "ops.example.com")
        let l = try ServerURL("http://127.0.0.1:18205")
        #expect(!l.tls && l.port == 18205 && l.hostHeader == "127.0.0.1:18205" && l.isLoopback)
        let v6 = try ServerURL("http://[::1]:8080")
        #expect(v6.connectHost == "::1" && v6.port == 8080 && v6.isLoopback)
    }

    @Test func queryEncoding() {
        #expect(ServerURL.api("http://h", "/api/ops/logs", [("service", "a b&c"), ("since", nil), ("tail", "5")])
                == "http://h/api/ops/logs?service=a%20b%26c&tail=5")
        #expect(ServerURL.encode("2026-11-22T04:00:00.5+01:00") == "2026-11-22T04%3A00%3A00.5%2B01%3A00")
    }

    @Test func downloadNames() {
        #expect(downloadFileName(contentDisposition: #"attachment; filename="opsplane-support-20261122T010203Z.json.gz""#, fallback: "f")
                == "opsplane-support-20261122T010203Z.json.gz")
        #expect(downloadFileName(contentDisposition: #"attachment; filename="../../etc/passwd""#, fallback: "f") == "passwd")
        #expect(downloadFileName(contentDisposition: #"attachment; filename=".bashrc""#, fallback: "f") == "bashrc")
        #expect(downloadFileName(contentDisposition: nil, fallback: "f") == "f")
        #expect(downloadFileName(contentDisposition: "attachment", fallback: "f") == "f")
    }

    @Test func backoff() {
        #expect((0..<8).map { reconnectDelaySeconds(attempt: $0) } == [1, 2, 4, 8, 16, 30, 30, 30])
    }
}

@Suite struct LogFollowerTests {
    func e(_ ts: String?, _ m: String) -> JSON { ["ts": .from(ts), "level": "info", "message": .string(m)] }

    @Test func printsOnlyNewLines() {
        var f = LogFollower()
        let first = f.accept([e("2026-11-22T04:00:00Z", "a"), e("2026-11-22T04:00:01Z", "b")])
        #expect(first.new.count == 2)
        #expect(f.cursor == "2026-11-22T04:00:01Z")
        // The next poll starts at the cursor (inclusive): b comes again, c is new.
        let second = f.accept([e("2026-11-22T04:00:01Z", "b"), e("2026-11-22T04:00:01Z", "c")])
        #expect(second.new == [e("2026-11-22T04:00:01Z", "c")])
        #expect(!second.gap)
        let third = f.accept([e("2026-11-22T04:00:01Z", "b"), e("2026-11-22T04:00:01Z", "c")])
        #expect(third.new.isEmpty)
    }

    @Test func aLineRepeatedInTheSameSecondIsKeptAsOftenAsItIsNew() {
        var f = LogFollower()
        _ = f.accept([e("t1", "x")])
        let next = f.accept([e("t1", "x"), e("t1", "x")])
        #expect(next.new.count == 1)
    }

    @Test func linesWithoutTimeAreDeduplicated() {
        var f = LogFollower()
        _ = f.accept([e(nil, "a"), e(nil, "b")])
        #expect(f.cursor == nil)
        #expect(f.accept([e(nil, "a"), e(nil, "b"), e(nil, "c")]).new == [e(nil, "c")])
    }

    @Test func gapWhenAFullAnswerDoesNotOverlap() {
        var f = LogFollower()
        _ = f.accept([e("2026-11-22T04:00:00Z", "a")])
        let r = f.accept([e("2026-11-22T04:00:05Z", "y"), e("2026-11-22T04:00:05Z", "z")], full: true)
        #expect(r.gap)
        #expect(r.new.count == 2)
    }

    @Test func fractionsOrderCorrectly() {
        #expect(LogFollower.order("2026-11-22T04:00:00Z") < LogFollower.order("2026-11-22T04:00:00.5Z"))
        #expect(LogFollower.order("2026-11-22T04:00:00.123Z") < LogFollower.order("2026-11-22T04:00:00.2Z"))
        var f = LogFollower()
        _ = f.accept([e("2026-11-22T04:00:00.5Z", "a"), e("2026-11-22T04:00:00Z", "b")])
        #expect(f.cursor == "2026-11-22T04:00:00.5Z")
    }

    @Test func httpDates() {
        #expect(httpDateToRFC3339("Sun, 22 Nov 2026 04:07:00 GMT") == "2026-11-22T04:07:00Z")
        #expect(httpDateToRFC3339("Sun, 22 Nov 2026 04:07:00 GMT", minusSeconds: 1) == "2026-11-22T04:06:59Z")
        #expect(httpDateToRFC3339("Fri, 01 Jan 2027 00:00:00 GMT", minusSeconds: 1) == "2026-12-31T23:59:59Z")
        #expect(httpDateToRFC3339("Thu, 29 Feb 2024 12:00:00 GMT") == "2024-02-29T12:00:00Z")
        #expect(httpDateToRFC3339("yesterday") == nil)
    }
}

@Suite struct WebSocketTests {
    @Test func sha1AndAcceptValue() {
        #expect(SHA1.digest(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.digest([]).map { String(format: "%02x", $0) }.joined() == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        // RFC 6455 §1.3's example.
        #expect(WebSocket.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(base64(Array("hello".utf8)) == "aGVsbG8=")
        #expect(WebSocket.makeKey().count == 24)
    }

    @Test func clientFramesAreMasked() {
        let bytes = WebSocket.encode(.init(opcode: .text, payload: Array("Hello".utf8)), maskKey: [0x37, 0xfa, 0x21, 0x3d])
        // RFC 6455 §5.7: a masked "Hello".
        #expect(bytes == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        let long = WebSocket.encode(.init(opcode: .binary, payload: [UInt8](repeating: 1, count: 300)))
        #expect(long[1] == 0x80 | 126 && long[2] == 1 && long[3] == 44)
        let huge = WebSocket.encode(.init(opcode: .binary, payload: [UInt8](repeating: 1, count: 70_000)))
        #expect(huge[1] == 0x80 | 127 && huge.count == 70_000 + 14)
    }

    @Test func decodesServerFramesInPieces() throws {
        var d = WebSocket.FrameDecoder()
        let frame: [UInt8] = [0x81, 0x05] + Array("Hello".utf8)
        let ping: [UInt8] = [0x89, 0x00]
        let stream = frame + ping
        for b in stream.prefix(3) { d.push([b]) }
        #expect(try d.next() == nil)
        d.push(Array(stream.dropFirst(3)))
        #expect(try d.next() == .init(opcode: .text, payload: Array("Hello".utf8)))
        #expect(try d.next() == .init(opcode: .ping, payload: []))
        #expect(try d.next() == nil)
        // 16-bit length.
        d.push([0x82, 126, 0x01, 0x00] + [UInt8](repeating: 7, count: 256))
        #expect(try d.next()?.payload.count == 256)
    }

    @Test func rejectsBrokenFrames() {
        var d = WebSocket.FrameDecoder(maxPayload: 10)
        d.push([0x81, 11] + [UInt8](repeating: 0, count: 11))
        #expect(throws: WebSocket.ProtocolError.self) { try d.next() }
        var r = WebSocket.FrameDecoder()
        r.push([0xC1, 0])   // RSV1
        #expect(throws: WebSocket.ProtocolError.self) { try r.next() }
        var c = WebSocket.FrameDecoder()
        c.push([0x09, 0])   // a fragmented ping
        #expect(throws: WebSocket.ProtocolError.self) { try c.next() }
    }

    @Test func assemblesFragmentsAndCloseCodes() throws {
        var a = WebSocket.MessageAssembler()
        #expect(try a.accept(.init(fin: false, opcode: .text, payload: Array("{\"a\":".utf8))) == nil)
        #expect(try a.accept(.init(opcode: .ping, payload: [1])) == .ping([1]))
        #expect(try a.accept(.init(fin: true, opcode: .continuation, payload: Array("1}".utf8))) == .text("{\"a\":1}"))
        #expect(try a.accept(.init(opcode: .close, payload: WebSocket.closePayload(code: 4403, reason: "admins only")))
                == .close(code: 4403, reason: "admins only"))
        #expect(try a.accept(.init(opcode: .close, payload: [])) == .close(code: nil, reason: ""))
        #expect(throws: WebSocket.ProtocolError.self) { try a.accept(.init(opcode: .continuation, payload: [])) }
    }

    @Test func upgradeAnswer() throws {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let ok = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8) + [0x81, 0x00]
        #expect(try HTTPResponseHead.parse(Array(ok.prefix(20))) == nil)
        let head = try #require(try HTTPResponseHead.parse(ok))
        #expect(head.status == 101 && head.acceptsUpgrade(key: key))
        #expect(head.length == ok.count - 2)
        #expect(!head.acceptsUpgrade(key: "other"))
        let refused = Array("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".utf8)
        let h = try #require(try HTTPResponseHead.parse(refused))
        #expect(h.status == 401 && h.headers["content-length"] == "2")
        #expect(throws: WebSocket.ProtocolError.self) { try HTTPResponseHead.parse(Array("SSH-2.0\r\n\r\n".utf8)) }
        let request = String(decoding: WebSocket.upgradeRequest(path: "/api/ws", host: "h:1", key: key, extraHeaders: ["X-A: 1"]), as: UTF8.self)
        #expect(request.hasPrefix("GET /api/ws HTTP/1.1\r\nHost: h:1\r\n"))
        #expect(request.contains("Sec-WebSocket-Key: \(key)\r\n") && request.hasSuffix("X-A: 1\r\n\r\n"))
    }

    @Test func chunkedBodies() {
        #expect(HTTPResponseHead.dechunk(Array("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n".utf8)) == Array("Wikipedia".utf8))
        #expect(HTTPResponseHead.dechunk(Array("zz\r\n".utf8)) == [])
    }
}
