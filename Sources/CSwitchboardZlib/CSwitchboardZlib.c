#include "CSwitchboardZlib.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

struct sb_deflater {
    z_stream stream;
};

struct sb_inflater {
    z_stream stream;
};

sb_deflater *sb_deflater_create(int level, int windowBits) {
    sb_deflater *deflater = calloc(1, sizeof(sb_deflater));
    if (deflater == NULL) return NULL;
    if (deflateInit2(&deflater->stream, level, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(deflater);
        return NULL;
    }
    return deflater;
}

void sb_deflater_free(sb_deflater *deflater) {
    if (deflater == NULL) return;
    deflateEnd(&deflater->stream);
    free(deflater);
}

size_t sb_deflater_bound(sb_deflater *deflater, size_t length) {
    // deflateBound is for a whole stream ended with Z_FINISH; a sync flush adds an empty stored block (five
    // bytes at most) after the last block.
    return (size_t)deflateBound(&deflater->stream, (uLong)length) + 6;
}

long sb_deflater_compress(sb_deflater *deflater, const unsigned char *input, size_t length, unsigned char *output,
                          size_t capacity) {
    z_stream *stream = &deflater->stream;
    if (length > UINT_MAX || capacity > UINT_MAX) return -1;
    stream->next_in = (Bytef *)input;
    stream->avail_in = (uInt)length;
    stream->next_out = output;
    stream->avail_out = (uInt)capacity;
    int result = deflate(stream, Z_SYNC_FLUSH);
    // With room left over, the flush is complete and all the input was read.
    if ((result != Z_OK && result != Z_BUF_ERROR) || stream->avail_in != 0 || stream->avail_out == 0) return -1;
    return (long)(capacity - stream->avail_out);
}

int sb_deflater_reset(sb_deflater *deflater) {
    return deflateReset(&deflater->stream) == Z_OK ? 0 : -1;
}

sb_inflater *sb_inflater_create(int windowBits) {
    sb_inflater *inflater = calloc(1, sizeof(sb_inflater));
    if (inflater == NULL) return NULL;
    if (inflateInit2(&inflater->stream, -windowBits) != Z_OK) {
        free(inflater);
        return NULL;
    }
    return inflater;
}

void sb_inflater_free(sb_inflater *inflater) {
    if (inflater == NULL) return;
    inflateEnd(&inflater->stream);
    free(inflater);
}

int sb_inflater_inflate(sb_inflater *inflater, const unsigned char *input, size_t length, size_t *consumed,
                        unsigned char *output, size_t capacity, size_t *produced) {
    z_stream *stream = &inflater->stream;
    uInt inputCount = length > UINT_MAX ? UINT_MAX : (uInt)length;
    uInt outputCount = capacity > UINT_MAX ? UINT_MAX : (uInt)capacity;
    stream->next_in = (Bytef *)input;
    stream->avail_in = inputCount;
    stream->next_out = output;
    stream->avail_out = outputCount;
    int result = inflate(stream, Z_SYNC_FLUSH);
    *consumed = inputCount - stream->avail_in;
    *produced = outputCount - stream->avail_out;
    switch (result) {
    case Z_OK:
    case Z_BUF_ERROR:
        return 0;
    case Z_STREAM_END:
        return 1;
    default:
        return -1;
    }
}

int sb_inflater_reset(sb_inflater *inflater) {
    return inflateReset(&inflater->stream) == Z_OK ? 0 : -1;
}
