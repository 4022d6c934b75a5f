#if canImport(Glibc)
import Glibc
#endif

/// Starts a thread running `body`. Not in main.swift on purpose: closures written there are
/// inferred @MainActor and trap on another thread (FIELD-NOTES).
func spawn(_ body: @escaping () -> Void) throws -> pthread_t {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    let raw = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    guard pthread_create(&thread, nil, { p in
        Unmanaged<Box>.fromOpaque(p!).takeRetainedValue().body()
        return nil
    }, raw) == 0 else {
        Unmanaged<Box>.fromOpaque(raw).release()
        struct SpawnFailed: Error {}
        throw SpawnFailed()
    }
    return thread
}
