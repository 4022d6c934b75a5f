#if canImport(Glibc)
import Glibc
#endif

/// Starts a POSIX thread running `body`. Lives outside main.swift on purpose: a closure
/// written there is inferred @MainActor and traps on another thread (FIELD-NOTES).
public func startThread(_ body: @escaping () -> Void) throws -> pthread_t {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        throw FastCGIServer.StartError(description: "pthread_create failed: \(rc)")
    }
    return thread
}

/// A mutex-protected counter (threads that have finished).
final class Counter: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var count = 0

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func increment() {
        pthread_mutex_lock(&mutex); count += 1; pthread_mutex_unlock(&mutex)
    }

    var value: Int {
        pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }
        return count
    }
}
