/// Run states and the rules of moving between them.
public enum RunStatus: String, CaseIterable, Sendable {
    case queued, running, success, failed, canceled

    /// Order of progress: a record never moves a run backwards (a late `running` after
    /// `success` is accepted but changes nothing).
    public var rank: Int {
        switch self {
        case .queued: return 0
        case .running: return 1
        case .success, .failed, .canceled: return 2
        }
    }

    /// The ticker event a run publishes when it enters this state; queued and canceled
    /// publish nothing.
    public var eventType: String? {
        switch self {
        case .running: return "run_started"
        case .success: return "run_success"
        case .failed: return "run_failed"
        case .queued, .canceled: return nil
        }
    }

    public static var accepted: String { allCases.map(\.rawValue).joined(separator: "|") }
}
