import ArgumentParser
import OpsAPI
import OpsJSON

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Print the route table with each route's access (JSON), as the tests and docs use it.")

    func run() throws {
        print(JSON.array(Routes.table().map { r in
            ["method": .string(r.method), "path": .string(r.pattern), "access": .string(r.access.rawValue),
             "summary": .string(r.summary)]
        }).serialized())
    }
}
