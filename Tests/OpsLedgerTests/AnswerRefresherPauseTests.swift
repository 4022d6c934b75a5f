import Testing
@testable import OpsLedger

@Suite struct AnswerRefresherPauseTests {
    @Test func pauseAsLongAsTheRoundTookSoAtMostHalfACoreIsBusy() {
        #expect(AnswerRefresher.pauseMicros(afterMillis: 800) == 800_000)
        #expect(AnswerRefresher.pauseMicros(afterMillis: 1_234.5) == 1_234_500)
    }

    @Test func shortRoundsStillPauseFiftyMillisecondsAndLongOnesAtMostFiveSeconds() {
        #expect(AnswerRefresher.pauseMicros(afterMillis: 0) == 50_000)
        #expect(AnswerRefresher.pauseMicros(afterMillis: 3) == 50_000)
        #expect(AnswerRefresher.pauseMicros(afterMillis: 60_000) == 5_000_000)
    }
}
