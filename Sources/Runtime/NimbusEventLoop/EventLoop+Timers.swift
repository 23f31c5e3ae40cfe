/// A min-heap of deadlines; cancelled timers are dropped lazily when they reach the top, and
/// the heap is rebuilt when they outnumber the live ones (a deadline per RPC is typically
/// cancelled long before it is due, so lazy deletion alone would let the heap grow with the
/// request rate times the timeout).
struct TimerQueue {
    private var heap: [(deadline: UInt64, id: UInt64)] = []
    /// Bodies wrapped in a struct: a bare closure stored as a dictionary value would be
    /// reabstracted through a heap-allocated thunk on every schedule.
    private struct Body { let run: () -> Void }
    private var bodies: [UInt64: Body] = [:]
    private var nextID: UInt64 = 1
    private var cancelled = 0

    var isEmpty: Bool { bodies.isEmpty }

    var nextDeadline: UInt64? {
        mutating get {
            while let top = heap.first, bodies[top.id] == nil { popTop() }
            return heap.first?.deadline
        }
    }

    mutating func schedule(at deadline: UInt64, _ body: @escaping () -> Void) -> EventLoopTimer {
        let id = nextID
        nextID &+= 1
        bodies[id] = Body(run: body)
        heap.append((deadline, id))
        siftUp(heap.count - 1)
        return EventLoopTimer(id: id)
    }

    mutating func cancel(_ timer: EventLoopTimer) {
        guard bodies.removeValue(forKey: timer.id) != nil else { return }
        cancelled += 1
        if cancelled > 64 && cancelled * 2 > heap.count { compact() }
    }

    private mutating func compact() {
        heap.removeAll { bodies[$0.id] == nil }
        cancelled = 0
        var index = heap.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    /// The next timer due by `now`, removed; the caller runs it outside this struct's
    /// mutation (a timer body may schedule or cancel timers).
    mutating func popDue(now: UInt64) -> (() -> Void)? {
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let body = bodies.removeValue(forKey: top.id) { return body.run }
        }
        return nil
    }

    private mutating func popTop() {
        if bodies[heap[0].id] == nil && cancelled > 0 { cancelled -= 1 }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].deadline <= heap[child].deadline { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count && heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
