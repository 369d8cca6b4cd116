// Switchboard's own single-pass DEFLATE encoder (RFC 1951) for permessage-deflate at level 1.
//
// zlib spends most of its time at level 1 on its bit writer and its block bookkeeping, not on finding
// matches (Huffman-only coding costs it nearly what level 1 does). This encoder does one thing: it compresses
// one buffer as a run of non-final blocks followed by a sync flush, with no reference to anything before the
// buffer. Matches come from one probe of a hash table of 4-byte sequences (greedy, no chains); literals and
// matches are gathered per block and coded with the block's own Huffman codes, the fixed codes, or stored,
// whichever is smallest; bits go out through a 64-bit accumulator.
//
// At this pace much of the time is lost to branches the processor cannot foresee, whether a probe found a match
// above all. So nothing else branches on it: a literal is gathered where its probe failed (not counted out again
// before the next match), and an item is coded without asking whether it is a literal or a match (a literal is a
// match with no extra bits and an empty distance code). On this repository's text in 64 KiB messages that cut the
// mispredicted branches by about half and the time by a seventh (0.86×, `BenchServer deflate`), for 12 % more
// instructions. A short message's time goes mostly to building its block's codes, which therefore works on the
// symbols the block uses, listed once, not on all 286: 256-byte messages, the smallest Switchboard compresses,
// take 0.65× the time they took before both changes, 1 KiB ones 0.78×.
//
// The output is a DEFLATE stream any inflater reads: nothing here is BFINAL, so a receiver that keeps its
// inflater across messages is never told that the stream ended.
#include "CSwitchboardZlib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    HASH_BITS = 15,
    MIN_MATCH = 4,  // what the hash table looks up; DEFLATE allows 3, which rarely pays in one probe
    MAX_MATCH = 258,
    BLOCK_ITEMS = 1 << 15,  // literals and matches gathered before a block is coded
    LITLEN_SYMBOLS = 286,
    DISTANCE_SYMBOLS = 30,
    LENGTH_CODE_SYMBOLS = 19,
    MAX_CODE_BITS = 15,
    MAX_LENGTH_CODE_BITS = 7,
    STORED_MAX = 65535,
    END_OF_BLOCK = 256,
    NO_DISTANCE = 30,  // the distance symbol of a literal's item: no bits
    LIGHT_WEIGHTS = 256,  // symbol weights below this are sorted by counting
};

/// A prefix code: each symbol's length in bits (0 when unused) and its code, bit-reversed for LSB-first output.
typedef struct {
    uint8_t lengths[LITLEN_SYMBOLS + 2];
    uint16_t codes[LITLEN_SYMBOLS + 2];
} prefix_code;

struct sb_fast_deflater {
    uint32_t maximumDistance;
    /// Where each hash of 4 bytes was last seen, as `base + position`; entries below `base` belong to earlier
    /// buffers, so the table is never cleared between calls (only when `base` would overflow).
    uint32_t base;
    uint32_t table[1 << HASH_BITS];
    /// The block being gathered, one item per literal or match: its literal/length symbol in bits 0–8, its distance
    /// symbol (NO_DISTANCE for a literal) in bits 9–13, the value of the length's extra bits in bits 14–18 and that
    /// of the distance's from bit 19 (0 for a literal).
    uint32_t items[BLOCK_ITEMS];
    uint32_t litlenCounts[LITLEN_SYMBOLS];
    uint32_t distanceCounts[DISTANCE_SYMBOLS];
    prefix_code litlen, distance, lengthCode;
    prefix_code fixedLitlen, fixedDistance;
    /// Each match length's symbol (257–285), by `length - 3`, and each such symbol's first `length - 3`.
    uint16_t lengthSymbols[256];
    uint8_t lengthBases[29];
    /// Each literal/length symbol's count of extra bits (0 for a literal).
    uint8_t symbolExtraBits[LITLEN_SYMBOLS + 2];
    /// Each distance's symbol (0–29): by `distance - 1` below 256, by `256 + (distance - 1) >> 7` above; and
    /// each symbol's extra bits and first `distance - 1`.
    uint8_t distanceSymbols[512];
    /// NO_DISTANCE's count of extra bits, like its code, is zero.
    uint8_t distanceExtraBits[DISTANCE_SYMBOLS + 1];
    uint16_t distanceBases[DISTANCE_SYMBOLS];
};

/// The symbol of a match's `distance - 1` (0–32767), from the deflater's table.
static inline unsigned distance_symbol_of(const sb_fast_deflater *deflater, unsigned back) {
    return deflater->distanceSymbols[back < 256 ? back : 256 + (back >> 7)];
}

/// The output and its 64-bit bit accumulator. Whole words are stored at `next`, so the output needs 8 bytes of
/// slack past what is written (sb_fast_deflater_bound counts them).
typedef struct {
    uint8_t *next;
    uint64_t bits;
    unsigned count;
} bit_writer;

static inline void put_bits(bit_writer *writer, uint32_t value, unsigned count) {
    writer->bits |= (uint64_t)value << writer->count;
    writer->count += count;
    if (writer->count >= 32) {
        uint32_t word = (uint32_t)writer->bits;
        memcpy(writer->next, &word, 4);  // little-endian machines; see sb_fast_deflater_create
        writer->next += 4;
        writer->bits >>= 32;
        writer->count -= 32;
    }
}

/// Writes out whole bytes and pads the last partial byte with zero bits.
static void align_to_byte(bit_writer *writer) {
    while (writer->count > 0) {
        *writer->next++ = (uint8_t)writer->bits;
        writer->bits >>= 8;
        writer->count = writer->count >= 8 ? writer->count - 8 : 0;
    }
    writer->bits = 0;
}

/// The item of a literal `byte`.
#define LITERAL_ITEM(byte) ((uint32_t)(byte) | (uint32_t)NO_DISTANCE << 9)

static inline uint32_t load32(const uint8_t *bytes) {
    uint32_t value;
    memcpy(&value, bytes, 4);
    return value;
}

static inline uint64_t load64(const uint8_t *bytes) {
    uint64_t value;
    memcpy(&value, bytes, 8);
    return value;
}

static inline uint32_t hash4(uint32_t bytes) { return (bytes * 2654435761u) >> (32 - HASH_BITS); }

static inline unsigned floor_log2(uint32_t value) { return 31u - (unsigned)__builtin_clz(value); }

/// The length symbol (257–285) of a match of `length` bytes (3–258), and its extra bits.
static inline unsigned length_symbol(unsigned length, unsigned *extraBits, unsigned *extraValue) {
    unsigned offset = length - 3;
    if (length == MAX_MATCH) {
        *extraBits = 0;
        *extraValue = 0;
        return 285;
    }
    if (offset < 8) {
        *extraBits = 0;
        *extraValue = 0;
        return 257 + offset;
    }
    unsigned log = floor_log2(offset);
    *extraBits = log - 2;
    *extraValue = offset & ((1u << (log - 2)) - 1);
    return 257 + 4 * (log - 1) + ((offset >> (log - 2)) & 3);
}

/// The distance symbol (0–29) of a match `distance` bytes back (1–32768), and its extra bits.
static inline unsigned distance_symbol(unsigned distance, unsigned *extraBits, unsigned *extraValue) {
    unsigned offset = distance - 1;
    if (offset < 4) {
        *extraBits = 0;
        *extraValue = 0;
        return offset;
    }
    unsigned log = floor_log2(offset);
    *extraBits = log - 1;
    *extraValue = offset & ((1u << (log - 1)) - 1);
    return 2 * log + ((offset >> (log - 1)) & 1);
}

/// Gives each of the `count` symbols in `used` (in increasing order; every other symbol's length is 0) its code
/// from its length, the canonical way (RFC 1951, 3.2.2), bit-reversed.
static void assign_codes(prefix_code *code, const uint16_t *used, unsigned count) {
    unsigned lengthCounts[MAX_CODE_BITS + 1] = {0};
    unsigned next[MAX_CODE_BITS + 2] = {0};
    for (unsigned index = 0; index < count; index++) lengthCounts[code->lengths[used[index]]]++;
    lengthCounts[0] = 0;
    for (unsigned bits = 1; bits <= MAX_CODE_BITS; bits++) next[bits + 1] = (next[bits] + lengthCounts[bits]) << 1;
    for (unsigned index = 0; index < count; index++) {
        unsigned symbol = used[index], length = code->lengths[symbol];
        if (length == 0) continue;
        unsigned value = next[length]++;
        code->codes[symbol] = (uint16_t)(__builtin_bitreverse16((uint16_t)value) >> (16 - length));
    }
}

/// `assign_codes` for a code whose `symbols` all have a length (the fixed codes).
static void assign_all_codes(prefix_code *code, unsigned symbols) {
    uint16_t every[LITLEN_SYMBOLS + 2];
    for (unsigned symbol = 0; symbol < symbols; symbol++) every[symbol] = (uint16_t)symbol;
    assign_codes(code, every, symbols);
}

/// Huffman code lengths for `counts`, none longer than `limit` bits. At least two symbols get a code (a lone
/// used symbol gets a partner), since some inflaters reject a code with one symbol. Returns how many symbols got
/// a code, and lists them in `used` in increasing order: after this one pass over every symbol, the rest of the
/// work (and `assign_codes`, and the block's cost) goes over those alone, which in a short message's block are a
/// third of the 286 literal/length symbols or fewer.
static unsigned build_lengths(const uint32_t *counts, unsigned symbols, unsigned limit, uint8_t *lengths,
                              uint16_t *used) {
    uint32_t weights[LITLEN_SYMBOLS];
    unsigned usedCount = 0;
    uint32_t heaviest = 1;
    memset(lengths, 0, symbols);
    for (unsigned symbol = 0; symbol < symbols; symbol++) {
        uint32_t count = counts[symbol];
        weights[symbol] = count;
        used[usedCount] = (uint16_t)symbol;  // kept only if the symbol is used: without a branch
        usedCount += count > 0;
        heaviest = count > heaviest ? count : heaviest;
    }
    if (usedCount < 2) {
        for (unsigned symbol = 0; usedCount < 2 && symbol < symbols; symbol++) {
            if (weights[symbol] == 0) {
                weights[symbol] = 1;
                usedCount++;
            }
        }
        usedCount = 0;
        for (unsigned symbol = 0; symbol < symbols; symbol++) {
            if (weights[symbol] > 0) used[usedCount++] = (uint16_t)symbol;
        }
    }
    for (;;) {
        // Leaves sorted by weight, ties in symbol order: a counting sort by weight for weights under 256 (in a
        // message's block most symbols are rare), its buckets going up to the heaviest weight only, then an
        // insertion sort of the few heavier ones at the end. Then the two-queue construction: internal nodes
        // are made in order of weight, so each queue stays sorted.
        uint16_t leaves[LITLEN_SYMBOLS];
        unsigned top = heaviest < LIGHT_WEIGHTS ? heaviest : LIGHT_WEIGHTS;
        unsigned starts[LIGHT_WEIGHTS + 1];
        memset(starts, 0, (top + 1) * sizeof starts[0]);
        for (unsigned index = 0; index < usedCount; index++) {
            uint32_t weight = weights[used[index]];
            starts[weight < LIGHT_WEIGHTS ? weight : LIGHT_WEIGHTS]++;
        }
        unsigned leafCount = 0;
        for (unsigned weight = 0; weight <= top; weight++) {
            unsigned count = starts[weight];
            starts[weight] = leafCount;
            leafCount += count;
        }
        for (unsigned index = 0; index < usedCount; index++) {
            uint32_t weight = weights[used[index]];
            leaves[starts[weight < LIGHT_WEIGHTS ? weight : LIGHT_WEIGHTS]++] = used[index];
        }
        for (unsigned next = top == LIGHT_WEIGHTS ? starts[LIGHT_WEIGHTS - 1] + 1 : leafCount; next < leafCount; next++) {
            uint16_t symbol = leaves[next];
            unsigned at = next;
            while (at > 0 && weights[leaves[at - 1]] > weights[symbol]) {
                leaves[at] = leaves[at - 1];
                at--;
            }
            leaves[at] = symbol;
        }
        uint64_t nodeWeights[LITLEN_SYMBOLS];
        uint16_t parents[2 * LITLEN_SYMBOLS];  // of leaves (by leaf index) then of nodes (leafCount + node)
        unsigned nodeCount = 0, nextLeaf = 0, nextNode = 0;
        while (nodeCount < leafCount - 1) {
            unsigned children[2];
            uint64_t weight = 0;
            for (unsigned child = 0; child < 2; child++) {
                int takeLeaf = nextLeaf < leafCount &&
                               (nextNode >= nodeCount || weights[leaves[nextLeaf]] <= nodeWeights[nextNode]);
                if (takeLeaf) {
                    children[child] = nextLeaf;
                    weight += weights[leaves[nextLeaf++]];
                } else {
                    children[child] = leafCount + nextNode;
                    weight += nodeWeights[nextNode++];
                }
            }
            parents[children[0]] = (uint16_t)(leafCount + nodeCount);
            parents[children[1]] = (uint16_t)(leafCount + nodeCount);
            nodeWeights[nodeCount++] = weight;
        }
        // Depths from the root (the last node) down: a node's parent was made after it.
        uint8_t depths[2 * LITLEN_SYMBOLS];
        unsigned root = leafCount + nodeCount - 1;
        depths[root] = 0;
        for (unsigned node = root; node-- > leafCount;) depths[node] = depths[parents[node]] + 1;
        unsigned deepest = 0;
        for (unsigned leaf = 0; leaf < leafCount; leaf++) {
            unsigned depth = depths[parents[leaf]] + 1;
            lengths[leaves[leaf]] = (uint8_t)depth;
            if (depth > deepest) deepest = depth;
        }
        if (deepest <= limit) return usedCount;
        // Too deep: flatten the weights and build again (rare; each round halves the spread).
        heaviest = (heaviest >> 1) | 1;
        for (unsigned index = 0; index < usedCount; index++) weights[used[index]] = (weights[used[index]] >> 1) | 1;
    }
}

/// The code lengths of both codes as DEFLATE sends them: run-length coded with symbols 16 (repeat the last
/// length 3–6 times), 17 (3–10 zeros) and 18 (11–138 zeros). Returns the number of entries in `runs`, each
/// symbol | extra value << 5.
static unsigned encode_lengths(const uint8_t *lengths, unsigned count, uint16_t *runs, uint32_t *counts) {
    unsigned entries = 0;
    for (unsigned at = 0; at < count;) {
        uint8_t length = lengths[at];
        unsigned run = 1;
        while (at + run < count && lengths[at + run] == length) run++;
        at += run;
        if (length == 0) {
            while (run >= 11) {
                unsigned take = run > 138 ? 138 : run;
                runs[entries++] = (uint16_t)(18 | (take - 11) << 5);
                counts[18]++;
                run -= take;
            }
            if (run >= 3) {
                runs[entries++] = (uint16_t)(17 | (run - 3) << 5);
                counts[17]++;
                run = 0;
            }
        } else {
            runs[entries++] = length;
            counts[length]++;
            run--;
            while (run >= 3) {
                unsigned take = run > 6 ? 6 : run;
                runs[entries++] = (uint16_t)(16 | (take - 3) << 5);
                counts[16]++;
                run -= take;
            }
        }
        while (run-- > 0) {
            runs[entries++] = length;
            counts[length]++;
        }
    }
    return entries;
}

static const uint8_t lengthCodeOrder[LENGTH_CODE_SYMBOLS] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                              11, 4,  12, 3, 13, 2, 14, 1, 15};
static const uint8_t runExtraBits[3] = {2, 3, 7};

/// Adds to `*dynamicBits` and `*fixedBits` the bits that the symbols of one alphabet take with the block's own
/// code and with the fixed one, extra bits included, going over the symbols that have a code in the block's own
/// (every symbol used is among them).
static void code_cost(const uint16_t *used, unsigned count, const uint32_t *counts, const uint8_t *extraBits,
                      const prefix_code *own, const prefix_code *fixedCode, uint64_t *dynamicBits, uint64_t *fixedBits) {
    uint64_t dynamic = 0, fixed = 0;
    for (unsigned index = 0; index < count; index++) {
        unsigned symbol = used[index];
        uint64_t times = counts[symbol];
        dynamic += times * (own->lengths[symbol] + extraBits[symbol]);
        fixed += times * (fixedCode->lengths[symbol] + extraBits[symbol]);
    }
    *dynamicBits += dynamic;
    *fixedBits += fixed;
}

/// Writes out the accumulator's whole bytes in one unconditional store: after it, at most 7 bits are held.
static inline void flush_bytes(bit_writer *writer) {
    memcpy(writer->next, &writer->bits, 8);  // little-endian machines; the output keeps 8 bytes of slack
    writer->next += writer->count >> 3;
    writer->bits >>= writer->count & ~7u;  // at most 24: put_bits leaves fewer than 32 bits
    writer->count &= 7;
}

/// Codes the block's items: each item's bits (a literal's code, or a match's length code, its extra bits, its
/// distance code and theirs, up to 48 bits) go into the accumulator at once, then its whole bytes out, with no
/// branch: a literal is coded as a match would be, with no extra bits and no distance (NO_DISTANCE's code is
/// empty).
static void write_items(const sb_fast_deflater *deflater, bit_writer *writer, unsigned itemCount, const prefix_code *litlen,
                        const prefix_code *distance) {
    flush_bytes(writer);
    uint64_t bits = writer->bits;
    unsigned count = writer->count;
    uint8_t *next = writer->next;
    for (unsigned index = 0; index < itemCount; index++) {
        uint32_t item = deflater->items[index];
        unsigned symbol = item & 511, codeBits = litlen->lengths[symbol];
        uint64_t out = litlen->codes[symbol] | (uint64_t)((item >> 14) & 31) << codeBits;
        unsigned length = codeBits + deflater->symbolExtraBits[symbol];
        unsigned distanceSymbol = (item >> 9) & 31, distanceBits = distance->lengths[distanceSymbol];
        uint64_t distanceOut = distance->codes[distanceSymbol] | (uint64_t)(item >> 19) << distanceBits;
        out |= distanceOut << length;
        length += distanceBits + deflater->distanceExtraBits[distanceSymbol];
        bits |= out << count;
        count += length;
        memcpy(next, &bits, 8);
        next += count >> 3;
        bits >>= count & ~7u;  // count is at most 7 + 48 here
        count &= 7;
    }
    writer->bits = bits;
    writer->count = count;
    writer->next = next;
    put_bits(writer, litlen->codes[END_OF_BLOCK], litlen->lengths[END_OF_BLOCK]);
}

/// Codes the gathered items, which stand for `input[0..<length]`, as one non-final block: with their own
/// codes, the fixed codes, or stored, whichever takes fewest bits.
static void write_block(sb_fast_deflater *deflater, bit_writer *writer, unsigned itemCount, const uint8_t *input,
                        size_t length) {
    deflater->litlenCounts[END_OF_BLOCK] = 1;
    uint16_t litlenUsed[LITLEN_SYMBOLS], distanceUsed[DISTANCE_SYMBOLS], lengthCodeUsed[LENGTH_CODE_SYMBOLS];
    unsigned litlenCount =
        build_lengths(deflater->litlenCounts, LITLEN_SYMBOLS, MAX_CODE_BITS, deflater->litlen.lengths, litlenUsed);
    unsigned distanceCount =
        build_lengths(deflater->distanceCounts, DISTANCE_SYMBOLS, MAX_CODE_BITS, deflater->distance.lengths, distanceUsed);
    assign_codes(&deflater->litlen, litlenUsed, litlenCount);
    assign_codes(&deflater->distance, distanceUsed, distanceCount);

    unsigned litlenSent = LITLEN_SYMBOLS, distanceSent = DISTANCE_SYMBOLS;
    while (litlenSent > 257 && deflater->litlen.lengths[litlenSent - 1] == 0) litlenSent--;
    while (distanceSent > 1 && deflater->distance.lengths[distanceSent - 1] == 0) distanceSent--;
    uint8_t allLengths[LITLEN_SYMBOLS + DISTANCE_SYMBOLS];
    memcpy(allLengths, deflater->litlen.lengths, litlenSent);
    memcpy(allLengths + litlenSent, deflater->distance.lengths, distanceSent);
    uint16_t runs[LITLEN_SYMBOLS + DISTANCE_SYMBOLS];
    uint32_t runCounts[LENGTH_CODE_SYMBOLS] = {0};
    unsigned runCount = encode_lengths(allLengths, litlenSent + distanceSent, runs, runCounts);
    unsigned lengthCodeCount =
        build_lengths(runCounts, LENGTH_CODE_SYMBOLS, MAX_LENGTH_CODE_BITS, deflater->lengthCode.lengths, lengthCodeUsed);
    assign_codes(&deflater->lengthCode, lengthCodeUsed, lengthCodeCount);
    unsigned lengthCodesSent = LENGTH_CODE_SYMBOLS;
    while (lengthCodesSent > 4 && deflater->lengthCode.lengths[lengthCodeOrder[lengthCodesSent - 1]] == 0)
        lengthCodesSent--;

    uint64_t dynamicBits = 3 + 5 + 5 + 4 + 3 * (uint64_t)lengthCodesSent;
    for (unsigned symbol = 0; symbol < LENGTH_CODE_SYMBOLS; symbol++) {
        dynamicBits += (uint64_t)runCounts[symbol] *
                       (deflater->lengthCode.lengths[symbol] + (symbol >= 16 ? runExtraBits[symbol - 16] : 0));
    }
    uint64_t fixedBits = 3;
    code_cost(litlenUsed, litlenCount, deflater->litlenCounts, deflater->symbolExtraBits, &deflater->litlen,
              &deflater->fixedLitlen, &dynamicBits, &fixedBits);
    code_cost(distanceUsed, distanceCount, deflater->distanceCounts, deflater->distanceExtraBits, &deflater->distance,
              &deflater->fixedDistance, &dynamicBits, &fixedBits);
    // Stored: each piece of up to 65535 bytes has a 3-bit header, padding to a byte, and LEN and NLEN.
    uint64_t storedBits = 8 * (uint64_t)length + (length / STORED_MAX + 1) * (3 + 7 + 32);

    if (storedBits <= dynamicBits && storedBits <= fixedBits) {
        size_t offset = 0;
        do {
            size_t piece = length - offset > STORED_MAX ? STORED_MAX : length - offset;
            put_bits(writer, 0, 3);  // BFINAL 0, BTYPE 00
            align_to_byte(writer);
            uint16_t header[2] = {(uint16_t)piece, (uint16_t)~piece};
            memcpy(writer->next, header, 4);
            memcpy(writer->next + 4, input + offset, piece);
            writer->next += 4 + piece;
            offset += piece;
        } while (offset < length);
    } else if (fixedBits <= dynamicBits) {
        put_bits(writer, 1 << 1, 3);  // BFINAL 0, BTYPE 01
        write_items(deflater, writer, itemCount, &deflater->fixedLitlen, &deflater->fixedDistance);
    } else {
        put_bits(writer, 2 << 1, 3);  // BFINAL 0, BTYPE 10
        put_bits(writer, litlenSent - 257, 5);
        put_bits(writer, distanceSent - 1, 5);
        put_bits(writer, lengthCodesSent - 4, 4);
        for (unsigned index = 0; index < lengthCodesSent; index++) {
            put_bits(writer, deflater->lengthCode.lengths[lengthCodeOrder[index]], 3);
        }
        for (unsigned index = 0; index < runCount; index++) {
            unsigned symbol = runs[index] & 31;
            put_bits(writer, deflater->lengthCode.codes[symbol], deflater->lengthCode.lengths[symbol]);
            if (symbol >= 16) put_bits(writer, runs[index] >> 5, runExtraBits[symbol - 16]);
        }
        write_items(deflater, writer, itemCount, &deflater->litlen, &deflater->distance);
    }
    memset(deflater->litlenCounts, 0, sizeof deflater->litlenCounts);
    memset(deflater->distanceCounts, 0, sizeof deflater->distanceCounts);
}

/// The block being gathered: how many literals and matches it holds, and where in the input it begins.
typedef struct {
    unsigned itemCount;
    size_t from;
} gathering;

/// Codes the gathered block when it is full, so that one more item fits; `at` is where that item begins.
static inline void make_room(sb_fast_deflater *deflater, bit_writer *writer, gathering *block, const uint8_t *input,
                             size_t at) {
    if (block->itemCount < BLOCK_ITEMS) return;
    write_block(deflater, writer, block->itemCount, input + block->from, at - block->from);
    block->itemCount = 0;
    block->from = at;
}

/// Gathers `input[from..<to]` as literals, as many at a time as the block has room for.
static inline void gather_literals(sb_fast_deflater *deflater, bit_writer *writer, gathering *block,
                                   const uint8_t *input, size_t from, size_t to) {
    while (from < to) {
        make_room(deflater, writer, block, input, from);
        size_t room = BLOCK_ITEMS - block->itemCount, end = to - from > room ? from + room : to;
        for (; from < end; from++) {
            deflater->items[block->itemCount++] = LITERAL_ITEM(input[from]);
            deflater->litlenCounts[input[from]]++;
        }
    }
}

sb_fast_deflater *sb_fast_deflater_create(int windowBits) {
    const uint16_t probe = 1;
    if (windowBits < 8 || windowBits > 15 || *(const uint8_t *)&probe != 1) return NULL;  // little-endian only
    sb_fast_deflater *deflater = calloc(1, sizeof(sb_fast_deflater));
    if (deflater == NULL) return NULL;
    deflater->maximumDistance = 1u << windowBits;
    deflater->base = 1;
    for (unsigned symbol = 0; symbol < LITLEN_SYMBOLS + 2; symbol++) {
        deflater->fixedLitlen.lengths[symbol] = symbol < 144 ? 8 : symbol < 256 ? 9 : symbol < 280 ? 7 : 8;
    }
    // Distance symbols 30 and 31 take no part: NO_DISTANCE (30) must stay empty, and they come last in the code.
    for (unsigned symbol = 0; symbol < DISTANCE_SYMBOLS; symbol++) deflater->fixedDistance.lengths[symbol] = 5;
    assign_all_codes(&deflater->fixedLitlen, LITLEN_SYMBOLS + 2);
    assign_all_codes(&deflater->fixedDistance, DISTANCE_SYMBOLS);
    for (unsigned offset = 0; offset < 256; offset++) {
        unsigned extraBits, extraValue;
        unsigned symbol = length_symbol(offset + 3, &extraBits, &extraValue);
        deflater->lengthSymbols[offset] = (uint16_t)symbol;
        deflater->symbolExtraBits[symbol] = (uint8_t)extraBits;
        deflater->lengthBases[symbol - 257] = (uint8_t)(offset - extraValue);
    }
    // One `distance - 1` for each entry of distance_symbol_of's table: above 255, the 128 that share an entry
    // share a symbol.
    for (unsigned entry = 0; entry < 512; entry++) {
        unsigned back = entry < 256 ? entry : (entry - 256) << 7, extraBits, extraValue;
        if (entry >= 256 && back < 256) continue;
        unsigned symbol = distance_symbol(back + 1, &extraBits, &extraValue);
        deflater->distanceSymbols[entry] = (uint8_t)symbol;
        deflater->distanceExtraBits[symbol] = (uint8_t)extraBits;
        deflater->distanceBases[symbol] = (uint16_t)(back - extraValue);
    }
    return deflater;
}

void sb_fast_deflater_free(sb_fast_deflater *deflater) { free(deflater); }

size_t sb_fast_deflater_bound(size_t length) {
    // A block is never coded larger than stored: six bytes (a header, its padding, LEN and NLEN) per piece of
    // up to 65535 bytes. Every block but the last holds BLOCK_ITEMS items, so at least 32 KiB, which makes at
    // most 6 * (length / 65535 + length / 32768 + 1) bytes of overhead; then the flush's five and the writer's
    // slack of eight for whole-word stores.
    return length + 6 * (length / 16384 + 2) + 5 + 8;
}

long sb_fast_deflater_compress(sb_fast_deflater *deflater, const unsigned char *input, size_t length,
                               unsigned char *output, size_t capacity) {
    if (length > UINT32_MAX / 2 || capacity < sb_fast_deflater_bound(length)) return -1;
    if (deflater->base > UINT32_MAX - (uint32_t)length - 1) {
        memset(deflater->table, 0, sizeof deflater->table);
        deflater->base = 1;
    }
    const uint32_t base = deflater->base;
    deflater->base += (uint32_t)length + 1;
    bit_writer writer = {output, 0, 0};

    size_t position = 0, literalsFrom = 0;
    gathering block = {0, 0};
    // In locals: the table's stores could alias the deflater's fields for all the compiler knows.
    uint32_t *const table = deflater->table;
    const size_t maximumDistance = deflater->maximumDistance;
    // Room for a whole match and a run of literals up to the next probe.
    const size_t searchEnd = length >= MIN_MATCH + 8 ? length - 8 : 0;
    while (position < searchEnd) {
        uint32_t bytes = load32(input + position);
        uint32_t *slot = &table[hash4(bytes)];
        uint32_t candidate = *slot;
        *slot = base + (uint32_t)position;
        size_t distance = position - (candidate - base);
        if (candidate < base || distance > maximumDistance || load32(input + candidate - base) != bytes) {
            // No match: a literal. After 32 literals in a row, probe less often (incompressible input passes
            // quickly), and the bytes passed over are literals too.
            size_t step = 1 + ((position - literalsFrom) >> 5);
            if (step == 1) {
                make_room(deflater, &writer, &block, input, position);
                deflater->items[block.itemCount++] = LITERAL_ITEM(input[position]);
                deflater->litlenCounts[input[position]]++;
            } else {
                if (step > length - position) step = length - position;
                gather_literals(deflater, &writer, &block, input, position, position + step);
            }
            position += step;
            continue;
        }
        size_t matchLength = MIN_MATCH, limit = length - position;
        if (limit > MAX_MATCH) limit = MAX_MATCH;
        const uint8_t *here = input + position, *there = here - distance;
        while (matchLength + 8 <= limit) {
            uint64_t difference = load64(here + matchLength) ^ load64(there + matchLength);
            if (difference) {
                matchLength += (size_t)__builtin_ctzll(difference) >> 3;
                goto found;
            }
            matchLength += 8;
        }
        while (matchLength < limit && here[matchLength] == there[matchLength]) matchLength++;
    found:
        make_room(deflater, &writer, &block, input, position);
        unsigned lengthSymbol = deflater->lengthSymbols[matchLength - 3];
        deflater->litlenCounts[lengthSymbol]++;
        unsigned distanceSymbol = distance_symbol_of(deflater, (unsigned)distance - 1);
        deflater->distanceCounts[distanceSymbol]++;
        deflater->items[block.itemCount++] =
            lengthSymbol | distanceSymbol << 9 | (uint32_t)(matchLength - 3 - deflater->lengthBases[lengthSymbol - 257]) << 14 |
            (uint32_t)(distance - 1 - deflater->distanceBases[distanceSymbol]) << 19;
        position += matchLength;
        literalsFrom = position;
        // The end of the match goes in the table too: the next repeat often starts there.
        if (position - 2 < searchEnd) {
            table[hash4(load32(input + position - 2))] = base + (uint32_t)(position - 2);
        }
    }
    // The rest are literals.
    gather_literals(deflater, &writer, &block, input, position, length);
    if (block.itemCount > 0) write_block(deflater, &writer, block.itemCount, input + block.from, length - block.from);
    // The sync flush: an empty stored block, 00 00 ff ff after the padding.
    put_bits(&writer, 0, 3);
    align_to_byte(&writer);
    static const uint8_t flush[4] = {0x00, 0x00, 0xff, 0xff};
    memcpy(writer.next, flush, 4);
    writer.next += 4;
    return (long)(writer.next - output);
}
