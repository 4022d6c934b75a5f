import OpsJSON
import Testing
@testable import OpsLedger

/// The refresher shares top-agents results between the summary and the top answer; a reused
/// result must never make an answer look fresher than the data it was computed from.
@Suite struct TopAgentsMemoTests {
    let today = TopAgentsMemo.Key(start: 1_765_065_600, end: 1_765_152_000, limit: 5)
    let agents: JSON = .array([["agent_id": "a-1", "runs": 3]])

    /// A memo in its first round holding today's top 5, computed at data version 7 from
    /// monotonic time 100 ms in 900 ms.
    func memoHoldingTodayAtVersion7() -> TopAgentsMemo {
        let memo = TopAgentsMemo()
        memo.nextRound()
        memo.begin(version: 7)
        memo.store(today, startedMillis: 100, durationMillis: 900, agents: agents, total: 12)
        return memo
    }

    @Test func reusesAResultAtTheSameDataVersionAcrossRounds() {
        let memo = TopAgentsMemo()
        memo.nextRound()
        memo.begin(version: 7)
        #expect(memo.lookup(today) == nil)
        memo.store(today, startedMillis: 100, durationMillis: 900, agents: agents, total: 12)
        memo.nextRound()
        memo.begin(version: 7)
        let hit = memo.lookup(today)
        #expect(hit?.agents == agents)
        #expect(hit?.total == 12)
        #expect(memo.oldestVersionUsed == 7)
        #expect(memo.oldestStartUsed == nil)  // same data: not older than a query now
        #expect(memo.reusedMillis == 900)       // but it cost what the query cost
        memo.begin(version: 7)
        #expect(memo.reusedMillis == 0)
    }

    @Test func anOlderResultOfTheSameRoundIsUsedButLabelsTheAnswerWithItsVersion() {
        let memo = memoHoldingTodayAtVersion7()
        memo.begin(version: 9)  // data changed while the round went on
        #expect(memo.oldestVersionUsed == nil)
        #expect(memo.lookup(today)?.total == 12)
        #expect(memo.oldestVersionUsed == 7)
        #expect(memo.oldestStartUsed == 100)
    }

    @Test func anOlderResultOfAnEarlierRoundIsNotUsed() {
        let memo = memoHoldingTodayAtVersion7()
        memo.nextRound()
        memo.begin(version: 8)
        #expect(memo.lookup(today) == nil)
        #expect(memo.oldestVersionUsed == nil)
        #expect(memo.oldestStartUsed == nil)
    }

    @Test func otherWindowsAndLimitsAreOtherEntries() {
        let memo = memoHoldingTodayAtVersion7()
        #expect(memo.lookup(.init(start: today.start, end: today.end, limit: 10)) == nil)
        #expect(memo.lookup(.init(start: today.start - 86_400, end: today.start, limit: 5)) == nil)
    }
}
