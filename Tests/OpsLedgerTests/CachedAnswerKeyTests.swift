import Testing
import OpsActivity
@testable import OpsLedger

@Suite struct CachedAnswerKeyTests {
    @Test(arguments: [
        CachedAnswer.summary(date: "2026-11-22", userCents: 100, globalCents: 0),
        .timeseries(.costByHour, .d7, date: "2026-11-22"),
        .top(.models, .d30, limit: 17, date: "2026-11-22"),
        .overview(.d7),
        .globalSpend(date: "2026-11-22"),
    ])
    func keysRoundTrip(_ answer: CachedAnswer) {
        #expect(CachedAnswer(key: answer.key) == answer, "the refresher must recompute exactly what the route cached")
    }

    @Test(arguments: ["", "summary", "summary:x:y:z", "top:agents:today:ten:2026-11-22", "timeseries:nope:today:2026-11-22", "other:1"])
    func unknownKeysAreIgnored(_ key: String) {
        #expect(CachedAnswer(key: key) == nil)
    }

    @Test func slowAnswersThatDoNotReadTodaysHistogramsGoToTheSlowLane() {
        let d = "2026-11-22"
        // Top agents over 30 days: slow once it took over a second.
        #expect(AnswerRefresher.lane(of: .top(.agents, .d30, limit: 5, date: d), computeMillis: 3500) == .slow)
        #expect(AnswerRefresher.lane(of: .top(.agents, .d7, limit: 5, date: d), computeMillis: 1000) == .main)
        #expect(AnswerRefresher.lane(of: .overview(.d7), computeMillis: 1500) == .slow)
        // The summary and today's top agents read the main lane's histograms, however slow.
        #expect(AnswerRefresher.lane(of: .summary(date: d, userCents: 0, globalCents: 0), computeMillis: 5000) == .main)
        #expect(AnswerRefresher.lane(of: .top(.agents, .today, limit: 5, date: d), computeMillis: 5000) == .main)
        #expect(AnswerRefresher.lane(of: .top(.users, .today, limit: 5, date: d), computeMillis: 5000) == .slow)
    }

    @Test func datedAnswersKnowTheirDay() {
        #expect(CachedAnswer.summary(date: "2026-11-21", userCents: 0, globalCents: 0).date == "2026-11-21")
        #expect(CachedAnswer.overview(.h24).date == nil)
    }
}
