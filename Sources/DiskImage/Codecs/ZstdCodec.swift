internal import CZstd

/// Compresses one buffer into one zstd frame (RFC 8878), as qcow2's compression type 1 stores a
/// cluster (qemu's block/qcow2-threads.c, `qcow2_zstd_compress`: one frame, no size prefix).
/// One instance per worker thread: a `ZSTD_CCtx` is not shareable.
final class ZstdCompressor {
    let level: Int32
    private let context: OpaquePointer

    init(level: Int32) {
        self.level = level
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx failed: out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeCCtx(context) }

    /// The most bytes one frame of `inputSize` bytes takes.
    static func bound(forInputSize inputSize: Int) -> Int { ZSTD_compressBound(inputSize) }

    /// Compresses `input` into `output`; the frame's size, nil when it does not fit.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        let size = ZSTD_compressCCtx(context, output.baseAddress, output.count, input.baseAddress, input.count, level)
        return ZSTD_isError(size) != 0 ? nil : size
    }
}

/// Decompresses zstd frames into a buffer of known size: qcow2's zstd clusters, whose stored
/// length runs on to a sector boundary past the frame (qemu reads frames until the cluster is
/// full, `qcow2_zstd_decompress`). Stateless between calls, so a context is made per call.
enum ZstdDecompressor {
    /// Fills `output` from the frames at the start of `input`; the bytes produced, nil when the
    /// input is not valid zstd or ends first.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard let context = ZSTD_createDCtx() else { return nil }
        defer { ZSTD_freeDCtx(context) }
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var result = 0
        while outBuffer.pos < outBuffer.size {
            let before = (inBuffer.pos, outBuffer.pos)
            result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 { return nil }
            // No progress: the input ended before the cluster was full.
            if before == (inBuffer.pos, outBuffer.pos) { return nil }
        }
        // A frame not finished when the buffer is full would produce more than it holds.
        return result == 0 ? outBuffer.pos : nil
    }
}
