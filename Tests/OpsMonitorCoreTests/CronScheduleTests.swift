import OpsActivity
import OpsMonitorCore
import Testing

@Suite struct CronScheduleTests {
    func t(_ iso: String) -> Int64 { try! UTCTime.parse(iso).seconds }
    func iso(_ s: Int64?) -> String { s.map { UTCTime(seconds: $0).iso8601 } ?? "never" }
    func next(_ expr: String, after: String) throws -> String { iso(try CronSchedule(expr).next(after: t(after))) }

    @Test func dailyDefault() throws {
        #expect(try next("0 8 * * *", after: "2030-01-01T07:59:59Z") == "2030-01-01T08:00:00Z")
        #expect(try next("0 8 * * *", after: "2030-01-01T08:00:00Z") == "2030-01-02T08:00:00Z", "strictly after")
        #expect(try next("0 8 * * *", after: "2030-12-31T09:00:00Z") == "2031-01-01T08:00:00Z")
        #expect(try next("* * * * *", after: "2030-01-01T07:59:30Z") == "2030-01-01T08:00:00Z")
    }

    @Test func listsRangesAndSteps() throws {
        #expect(try next("*/15 * * * *", after: "2030-01-01T10:16:00Z") == "2030-01-01T10:30:00Z")
        #expect(try next("5,35 9-17/4 * * *", after: "2030-01-01T09:40:00Z") == "2030-01-01T13:05:00Z")
        #expect(try next("0 0 1 */3 *", after: "2030-02-10T00:00:00Z") == "2030-04-01T00:00:00Z")
        #expect(try next("10/20 * * * *", after: "2030-01-01T00:31:00Z") == "2030-01-01T00:50:00Z")
    }

    @Test func weekdaysNamesAndTheDayFieldRule() throws {
        // 2030-01-01 is a Tuesday.
        #expect(try next("0 9 * * MON-FRI", after: "2030-01-04T10:00:00Z") == "2030-01-07T09:00:00Z")
        #expect(try next("0 9 * * 7", after: "2030-01-01T00:00:00Z") == "2030-01-06T09:00:00Z", "7 is Sunday")
        #expect(try next("0 0 * FEB *", after: "2030-01-15T00:00:00Z") == "2030-02-01T00:00:00Z")
        // Both day fields restricted: either matches (the 13th, or a Friday).
        #expect(try next("0 0 13 * 5", after: "2030-01-01T00:00:00Z") == "2030-01-04T00:00:00Z")
        #expect(try next("0 0 29 2 *", after: "2030-03-01T00:00:00Z") == "2032-02-29T00:00:00Z")
        #expect(try next("@daily", after: "2030-01-01T12:00:00Z") == "2030-01-02T00:00:00Z")
        #expect(try next("@hourly", after: "2030-01-01T12:00:00Z") == "2030-01-01T13:00:00Z")
    }

    @Test func badExpressionsAreRefusedWithAReason() {
        func error(_ s: String) -> String {
            do { _ = try CronSchedule(s); return "" } catch { return error.description }
        }
        #expect(error("0 8 * *").contains("4 fields"))
        #expect(error("60 8 * * *").contains("minute field: 60 is outside 0-59"))
        #expect(error("0 8 * * FUNDAY").contains("day-of-week"))
        #expect(error("0 8 5-1 * *").contains("backwards"))
        #expect(error("*/0 * * * *").contains("step"))
        #expect(error("0 0 31 2 *").contains("never fires"))
        #expect(error("1,,2 * * * *").contains("empty"))
    }
}
