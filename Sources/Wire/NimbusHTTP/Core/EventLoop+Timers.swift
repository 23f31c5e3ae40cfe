/// A min-heap of deadlines; cancelled timers are dropped lazily when they reach the top.
struct TimerQueue {
    private var heap: [(deadline: UInt64, id: UInt64)] = []
    private var bodies: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

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
        bodies[id] = body
        heap.append((deadline, id))
        siftUp(heap.count - 1)
        return EventLoopTimer(id: id)
    }

    mutating func cancel(_ timer: EventLoopTimer) {
        bodies[timer.id] = nil
    }

    /// Runs every timer due by `now`.
    mutating func fire(now: UInt64) {
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let body = bodies.removeValue(forKey: top.id) { body() }
        }
    }

    private mutating func popTop() {
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
