import Foundation

/// Runs `work` for batch indices 0..<batchCount on a bounded pool of worker threads and hands
/// the results to `consume` on the calling thread strictly in index order. With one worker
/// everything runs on the calling thread: `--threads 1` means one thread.
///
/// `skipTo` lets the pipeline jump over batches with nothing to do (holes of a sparse
/// source): given the next candidate index it returns the first index at or after it worth
/// working on. Skipped indices never reach `work` or `consume`.
///
/// Memory is bounded by the window: the batch claimed `n`-th starts only once the one
/// claimed `n - window`-th has been consumed, and it uses slab `n % window`, which is
/// therefore free. The slabs are allocated once and reused, so nothing grows with the image.
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
    ///   - skipTo: the first index at or after a candidate that needs work; nil: every index.
    ///   - makeWorker: builds one worker's private state (compressor, read buffer) on its thread.
    ///   - work: processes batch `index` into the slab; runs on a worker thread.
    ///   - consume: receives results in index order on the calling thread; throwing stops the
    ///     workers.
    func run<State, Result>(
        skipTo: (@Sendable (_ candidate: Int) -> Int)? = nil,
        makeWorker: @escaping @Sendable () -> State,
        work: @escaping @Sendable (_ index: Int, _ state: State, _ slab: UnsafeMutableRawBufferPointer) throws(DiskImageError) -> Result,
        consume: (_ index: Int, _ result: Result, _ slab: UnsafeRawBufferPointer) throws(DiskImageError) -> Void
    ) throws(DiskImageError) {
        try run(
            skipTo: skipTo, makeWorker: makeWorker,
            sequencedWork: { (index, _, state, slab) throws(DiskImageError) in try work(index, state, slab) },
            consume: consume)
    }

    /// `run`, where `work` also gets the batch's sequence number: 0 for the first batch
    /// claimed, then one more for each (skipped indices take none). Every claimed sequence
    /// is worked on, so a worker may wait for the one before its own to get somewhere (the
    /// qcow2 writer hands out host offsets in that order) without risk of waiting forever,
    /// as long as the earlier one does not wait for a later one.
    func run<State, Result>(
        skipTo: (@Sendable (_ candidate: Int) -> Int)? = nil,
        makeWorker: @escaping @Sendable () -> State,
        sequencedWork work:
            @escaping @Sendable (_ index: Int, _ sequence: Int, _ state: State, _ slab: UnsafeMutableRawBufferPointer) throws(DiskImageError) -> Result,
        consume: (_ index: Int, _ result: Result, _ slab: UnsafeRawBufferPointer) throws(DiskImageError) -> Void
    ) throws(DiskImageError) {
        guard batchCount > 0 else { return }
        let schedule = Schedule(batchCount: batchCount, skipTo: skipTo)
        if workerCount == 1 {
            // One thread in all: work and consume alternate on the caller, in one slab.
            let slabs = SlabSet(count: 1, capacity: slabCapacity)
            defer { slabs.deallocate() }
            let state = makeWorker()
            var candidate = 0
            var sequence = 0
            while let index = schedule.next(from: candidate) {
                let result = try work(index, sequence, state, slabs.slab(0))
                sequence += 1
                try consume(index, result, UnsafeRawBufferPointer(slabs.slab(0)))
                candidate = index + 1
            }
            return
        }
        let slabs = SlabSet(count: window, capacity: slabCapacity)
        defer { slabs.deallocate() }
        let shared = PipelineState<Result>(window: window, schedule: schedule)
        let finished = DispatchGroup()
        for _ in 0..<workerCount {
            finished.enter()
            let thread = Thread { [window] in
                defer { finished.leave() }
                let state = makeWorker()
                while let (sequence, index) = shared.claim() {
                    do throws(DiskImageError) {
                        let result = try work(index, sequence, state, slabs.slab(sequence % window))
                        shared.deliver(sequence: sequence, outcome: .success((index, result)))
                    } catch {
                        shared.deliver(sequence: sequence, outcome: .failure(error))
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
        var sequence = 0
        while let (index, result) = try shared.take(sequence: sequence).get() {
            try consume(index, result, UnsafeRawBufferPointer(slabs.slab(sequence % window)))
            shared.release(sequence: sequence)
            sequence += 1
        }
    }
}

/// Which batch indices get work, in order.
private struct Schedule: Sendable {
    let batchCount: Int
    let skipTo: (@Sendable (Int) -> Int)?

    /// The first index at or after `candidate` that needs work, nil past the end.
    func next(from candidate: Int) -> Int? {
        guard candidate < batchCount else { return nil }
        let index = max(candidate, skipTo?(candidate) ?? candidate)
        return index < batchCount ? index : nil
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

/// The claim counters and the reorder buffer, behind one condition lock. Batches are large
/// (a MiB or more), so one lock round trip per batch costs nothing measurable.
private final class PipelineState<Result>: @unchecked Sendable {
    // Every mutable field is read and written with `condition` held.
    private let condition = NSCondition()
    private let window: Int
    private let schedule: Schedule
    private var nextCandidate = 0
    private var nextSequence = 0
    private var exhausted = false
    private var consumed = 0
    private var stopped = false
    private var ready: [Int: Swift.Result<(Int, Result), DiskImageError>] = [:]

    init(window: Int, schedule: Schedule) {
        self.window = window
        self.schedule = schedule
    }

    /// The next (sequence, batch index) for a worker, waiting while the window is full; nil
    /// when there is nothing left.
    func claim() -> (Int, Int)? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && !exhausted && nextSequence >= consumed + window {
            condition.wait()
        }
        guard !stopped, !exhausted else { return nil }
        guard let index = schedule.next(from: nextCandidate) else {
            exhausted = true
            condition.broadcast()
            return nil
        }
        nextCandidate = index + 1
        defer { nextSequence += 1 }
        return (nextSequence, index)
    }

    func deliver(sequence: Int, outcome: Swift.Result<(Int, Result), DiskImageError>) {
        condition.lock()
        ready[sequence] = outcome
        if case .failure = outcome { stopped = true }
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the batch claimed `sequence`-th; nil once every claimed batch was taken. A
    /// failure of any batch, even a later one, is reported at once.
    func take(sequence: Int) -> Swift.Result<(Int, Result)?, DiskImageError> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let outcome = ready.removeValue(forKey: sequence) { return outcome.map { $0 } }
            if let failure = ready.values.first(where: { if case .failure = $0 { true } else { false } }),
                case let .failure(error) = failure
            {
                return .failure(error)
            }
            if exhausted && sequence >= nextSequence { return .success(nil) }
            condition.wait()
        }
    }

    func release(sequence: Int) {
        condition.lock()
        consumed = sequence + 1
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
