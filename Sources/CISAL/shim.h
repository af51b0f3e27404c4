#include <stddef.h>
#include <stdint.h>
#include <isa-l/igzip_lib.h>
#include <isa-l/mem_routines.h>

/* ISAL_DEF_LVL1_DEFAULT is a macro expression Swift cannot import. */
static inline size_t imgship_isal_level1_buffer_size(void) {
    return ISAL_DEF_LVL1_DEFAULT;
}

/*
 * One whole buffer to one stream at ISA-L level 1: framing 0 a zlib stream (RFC 1950),
 * 1 a raw DEFLATE stream (RFC 1951), 2 one gzip member (RFC 1952).
 * Returns the compressed size, or 0 when the output did not fit.
 * The stream struct is large (hundreds of KiB with its hash tables in level_buf),
 * so the caller owns it and reuses it across calls.
 */
static inline size_t imgship_isal_zlib_compress(struct isal_zstream *stream,
                                                uint8_t *level_buffer, size_t level_buffer_size,
                                                const uint8_t *input, size_t input_size,
                                                uint8_t *output, size_t output_capacity,
                                                int framing) {
    isal_deflate_stateless_init(stream);
    stream->level = 1;
    stream->level_buf = level_buffer;
    stream->level_buf_size = (uint32_t)level_buffer_size;
    stream->gzip_flag = framing == 1 ? IGZIP_DEFLATE : framing == 2 ? IGZIP_GZIP : IGZIP_ZLIB;
    stream->end_of_stream = 1;
    stream->flush = NO_FLUSH;
    stream->next_in = (uint8_t *)input;
    stream->avail_in = (uint32_t)input_size;
    stream->next_out = output;
    stream->avail_out = (uint32_t)output_capacity;
    if (isal_deflate_stateless(stream) != COMP_OK) {
        return 0;
    }
    return stream->total_out;
}
