/// A client's outgoing frames: at most `capacity`, the oldest dropped first when full, with
/// a count of what was dropped. A ring buffer: push and pop are O(1) and never reallocate.
public struct BoundedQueue<Element> {
    public let capacity: Int
    private var storage: [Element?]
    private var head = 0
    public private(set) var count = 0
    public private(set) var dropped: Int64 = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage = Array(repeating: nil, count: capacity)
    }

    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count == capacity }

    /// Adds at the back; when full, drops the front (oldest) element and returns true.
    @discardableResult
    public mutating func push(_ element: Element) -> Bool {
        var droppedOne = false
        if count == capacity {
            storage[head] = nil
            head = (head + 1) % capacity
            count -= 1
            dropped += 1
            droppedOne = true
        }
        storage[(head + count) % capacity] = element
        count += 1
        return droppedOne
    }

    public mutating func pop() -> Element? {
        guard count > 0 else { return nil }
        let e = storage[head]
        storage[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return e
    }
}
