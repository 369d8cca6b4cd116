// Raw DEFLATE streams for permessage-deflate (RFC 7692): through the system's zlib, a compressor that
// flushes every call to a byte boundary and an inflater that reports how much it read and wrote; and
// Switchboard's own single-pass encoder (FastDeflater.c), which the server uses at level 1. The
// z_stream stays behind an opaque pointer, so Swift never copies or moves it.
#ifndef CSWITCHBOARD_ZLIB_H
#define CSWITCHBOARD_ZLIB_H

#include <stddef.h>

typedef struct sb_deflater sb_deflater;
typedef struct sb_inflater sb_inflater;

/// A raw-deflate compressor at `level` (1–9) with a window of 2^`windowBits` bytes (9–15), memory level 8;
/// NULL when zlib cannot make one.
sb_deflater *sb_deflater_create(int level, int windowBits);
void sb_deflater_free(sb_deflater *deflater);
/// The most `sb_deflater_compress` can write for `length` bytes of input, its flush included.
size_t sb_deflater_bound(sb_deflater *deflater, size_t length);
/// Compresses `length` bytes and ends with a sync flush (an empty stored block, `00 00 ff ff`), into `output`.
/// Returns the bytes written, or -1 when `output` was too small or zlib failed (reset the stream then).
long sb_deflater_compress(sb_deflater *deflater, const unsigned char *input, size_t length, unsigned char *output,
                          size_t capacity);
/// Starts a new stream: nothing compressed before is referred to by what comes after. Returns 0, or -1.
int sb_deflater_reset(sb_deflater *deflater);

/// Switchboard's own DEFLATE encoder (FastDeflater.c): one pass, one hash probe per position, no reference
/// to anything before the buffer it is given. Faster than zlib's level 1 and about as small.
typedef struct sb_fast_deflater sb_fast_deflater;

/// An encoder whose matches reach at most 2^`windowBits` bytes back (8–15); NULL without memory, or on a
/// big-endian machine.
sb_fast_deflater *sb_fast_deflater_create(int windowBits);
void sb_fast_deflater_free(sb_fast_deflater *deflater);
/// The most `sb_fast_deflater_compress` can write for `length` bytes of input, its flush included.
size_t sb_fast_deflater_bound(size_t length);
/// Compresses `length` bytes as non-final blocks followed by a sync flush (an empty stored block,
/// `00 00 ff ff`), into `output`. Returns the bytes written, or -1 when `capacity` is below the bound.
long sb_fast_deflater_compress(sb_fast_deflater *deflater, const unsigned char *input, size_t length,
                               unsigned char *output, size_t capacity);

/// A raw-deflate inflater with a window of 2^`windowBits` bytes (9–15; 15 takes any window a sender may use,
/// a smaller one refuses a distance beyond it); NULL when zlib cannot make one.
sb_inflater *sb_inflater_create(int windowBits);
void sb_inflater_free(sb_inflater *inflater);
/// Inflates from `input` into `output`, and sets how many bytes it read and wrote. Returns 0 when it stopped
/// for want of input or of room, 1 at the end of a stream (a block with BFINAL set), -1 for data that is not
/// DEFLATE (or needs a dictionary).
int sb_inflater_inflate(sb_inflater *inflater, const unsigned char *input, size_t length, size_t *consumed,
                        unsigned char *output, size_t capacity, size_t *produced);
/// Starts a new stream, keeping the memory. Returns 0, or -1.
int sb_inflater_reset(sb_inflater *inflater);

#endif
