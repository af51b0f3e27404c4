import Foundation
import Synchronization

/// Runs `work` for batch indices 0..<batchCount on a bounded pool of worker threads and hands
/// the results to `consume` on the calling thread strictly in index order.
///
/// Memory is bounded by the window: batch `i` starts only once batch `i - window` has been
/// consumed, and it writes into slab `i % window`, which is therefore free. The slabs are
/// allocated once and reused, so nothing grows with the image.
struct OrderedPipeline {
    let batchCount: Int
    let workerCount: Int
    let window: Int
    let slabCapacity: Int

    init(batchCount: Int, workerCount: Int, slabCapacity: Int) {
        self.batchCount = batchCount
        self.workerCount = max(1, workerCount)
        self.window = 2 * self.workerCount + 2
        self.slabCapacity = slabCapacity
    }

    /// - Parameters:
    ///   - makeWorker: builds one worker's private state (compressor, read buffer) on its thread.
    ///   - work: processes batch `index` into the slab; runs on a worker thread.
    ///   - consume: receives results in order on the calling thread; throwing stops the workers.
    func run<State, Result>(
        makeWorker: @escaping @Sendable () -> State,
        work: @escaping @Sendable (_ index: Int, _ state: State, _ slab: UnsafeMutableRawBufferPointer) throws(DiskImageError) -> Result,
        consume: (_ index: Int, _ result: Result, _ slab: UnsafeRawBufferPointer) throws(DiskImageError) -> Void
    ) throws(DiskImageError) {
        guard batchCount > 0 else { return }
        let slabs = SlabSet(count: window, capacity: slabCapacity)
        defer { slabs.deallocate() }
        let shared = PipelineState<Result>(window: window)
        let finished = DispatchGroup()
        let workers = min(workerCount, batchCount)
        for _ in 0..<workers {
            finished.enter()
            let thread = Thread { [batchCount, window] in
                defer { finished.leave() }
                let state = makeWorker()
                while let index = shared.claim(batchCount: batchCount) {
                    do throws(DiskImageError) {
                        let result = try work(index, state, slabs.slab(index % window))
                        shared.deliver(index: index, outcome: .success(result))
                    } catch {
                        shared.deliver(index: index, outcome: .failure(error))
                        return
                    }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        defer {
            shared.stop()
            finished.wait()
        }
        for index in 0..<batchCount {
            let result = try shared.take(index: index).get()
            try consume(index, result, UnsafeRawBufferPointer(slabs.slab(index % window)))
            shared.release(index: index)
        }
    }
}

/// The slabs, one per window slot.
private final class SlabSet: @unchecked Sendable {
    // Written once in init, then only read; each slab is touched by one thread at a time as
    // the pipeline's window guarantees.
    private let memory: UnsafeMutableRawBufferPointer
    private let capacity: Int

    init(count: Int, capacity: Int) {
        self.capacity = capacity
        self.memory = UnsafeMutableRawBufferPointer.allocate(byteCount: count * capacity, alignment: 4096)
    }

    func slab(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: memory[(slot * capacity)..<((slot + 1) * capacity)])
    }

    func deallocate() {
        memory.deallocate()
    }
}

/// The counters and the reorder buffer, behind one condition lock. Batches are large (a MiB
/// or more), so one lock round trip per batch costs nothing measurable.
private final class PipelineState<Result>: @unchecked Sendable {
    // Every field is read and written with `condition` held.
    private let condition = NSCondition()
    private let window: Int
    private var nextToClaim = 0
    private var consumed = 0
    private var stopped = false
    private var ready: [Int: Swift.Result<Result, DiskImageError>] = [:]

    init(window: Int) {
        self.window = window
    }

    /// The next batch index for a worker, waiting while the window is full; nil when done.
    func claim(batchCount: Int) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && nextToClaim < batchCount && nextToClaim >= consumed + window {
            condition.wait()
        }
        guard !stopped, nextToClaim < batchCount else { return nil }
        let index = nextToClaim
        nextToClaim += 1
        return index
    }

    func deliver(index: Int, outcome: Swift.Result<Result, DiskImageError>) {
        condition.lock()
        ready[index] = outcome
        if case .failure = outcome { stopped = true }
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for batch `index`. A failure of any batch (even a later one) is reported at once.
    func take(index: Int) -> Swift.Result<Result, DiskImageError> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let outcome = ready.removeValue(forKey: index) { return outcome }
            if let failure = ready.values.first(where: { if case .failure = $0 { true } else { false } }) {
                return failure
            }
            condition.wait()
        }
    }

    func release(index: Int) {
        condition.lock()
        consumed = index + 1
        condition.broadcast()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
