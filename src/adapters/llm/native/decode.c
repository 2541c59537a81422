/* The decode step of a Llama-family decoder on CPU, one call for every decoded row of a step (nd_decode),
 * and its matmuls for prompt rows (nd_matmul).
 *
 * Weights stay in their quantized form: Q4_1 (32 weights: w = d * q + m, q in 0..15), interleaved by 8
 * outputs (q4x8_block) or in GGUF's own blocks, or int8 rows (w = s * q). Activations are quantized to int8
 * per block of 32 before each matmul, so a block's dot product is integer work (AVX2: maddubs + madd), as
 * llama.cpp does with Q8_1.
 * Every row is computed the same way whatever the other rows are, so a row's result never depends on the batch.
 * Built at run time by adapters/llm/native_decode.py with -march=native and OpenMP (torch's own libgomp).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <omp.h>

#define QK 32
#define ROW_TILE 4
#define PREFETCH_BYTES 2048 /* weights stream from memory: ask for them this far ahead */

enum { KIND_Q4 = 0, KIND_Q8 = 1, KIND_Q4X8 = 2, KIND_Q8X8 = 3 };

/* GGUF's Q4_1 block: w[i] = d * q[i] + m; byte i of qs holds q[i] (low nibble) and q[i + 16] (high). */
typedef struct {
    uint16_t d, m; /* IEEE half */
    uint8_t qs[QK / 2];
} q4_block;

/* The same Q4_1 values for 8 outputs at once (out % 8 == 0): their d and m, then 4 vectors of 32 bytes;
 * byte o * 4 + i of vector j holds output o's weight of input 4 j + i (low nibble) and 4 (j + 4) + i (high),
 * so one maddubs against 4 activation bytes broadcast gives 8 outputs' partial sums in 8 lanes. */
typedef struct {
    uint16_t d[8], m[8]; /* IEEE half */
    uint8_t qs[128];
} q4x8_block;

typedef struct {
    int kind, out, in;
    const q4_block *blocks;   /* Q4: [out][in / QK] */
    const q4x8_block *groups; /* Q4X8: [out / 8][in / QK] */
    const int8_t *codes;    /* Q8: [out][in]; Q8X8: [out / 8][in / QK][8 chunks][8 outputs][4 inputs] */
    const float *scale;     /* Q8, Q8X8: [out] row scales */
    const float *bias;      /* [out] or NULL */
} matrix;

typedef struct {
    const float *input_norm, *post_norm, *q_norm, *k_norm; /* q_norm/k_norm: [head_dim] or NULL */
    matrix qkv, o, gate_up, down;
} layer;

typedef struct {
    int layers, hidden, heads, kv_heads, head_dim, inter, vocab;
    float eps, attn_scale;
    layer *layer;
    const float *final_norm;
    matrix head;
} model;

/* Activations of one row quantized per block: codes, scale and scale * sum(codes). */
typedef struct {
    int8_t *q;
    float *s, *sum;
} quantized_row;

model *nd_model_new(int layers, int hidden, int heads, int kv_heads, int head_dim, int inter, int vocab, float eps,
                    float attn_scale) {
    model *mdl = calloc(1, sizeof(model));
    if (!mdl) return NULL;
    mdl->layers = layers, mdl->hidden = hidden, mdl->heads = heads, mdl->kv_heads = kv_heads;
    mdl->head_dim = head_dim, mdl->inter = inter, mdl->vocab = vocab, mdl->eps = eps, mdl->attn_scale = attn_scale;
    mdl->layer = calloc((size_t)layers, sizeof(layer));
    if (!mdl->layer) {
        free(mdl);
        return NULL;
    }
    return mdl;
}

void nd_model_free(model *mdl) {
    if (mdl) free(mdl->layer);
    free(mdl);
}

static matrix *matrix_of(model *mdl, int index, int which) {
    if (index < 0) return &mdl->head;
    layer *l = &mdl->layer[index];
    matrix *all[4] = {&l->qkv, &l->o, &l->gate_up, &l->down};
    return all[which];
}

/* which: 0 qkv, 1 o, 2 gate_up, 3 down (of layer ``index``); index -1: the LM head. */
void nd_set_matrix(model *mdl, int index, int which, int kind, int out, int in, const void *data, const float *scale,
                   const float *bias) {
    matrix *mat = matrix_of(mdl, index, which);
    mat->kind = kind, mat->out = out, mat->in = in, mat->scale = scale, mat->bias = bias;
    mat->blocks = kind == KIND_Q4 ? data : NULL;
    mat->groups = kind == KIND_Q4X8 ? data : NULL;
    mat->codes = kind == KIND_Q8 || kind == KIND_Q8X8 ? data : NULL;
}

void nd_set_norms(model *mdl, int index, const float *input_norm, const float *post_norm, const float *q_norm,
                  const float *k_norm) {
    if (index < 0) {
        mdl->final_norm = input_norm;
        return;
    }
    layer *l = &mdl->layer[index];
    l->input_norm = input_norm, l->post_norm = post_norm, l->q_norm = q_norm, l->k_norm = k_norm;
}

/* -- pieces ------------------------------------------------------------------------------------------------ */

static void rms_norm(const float *x, const float *weight, float *out, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)x[i] * x[i];
    float inv = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * inv * weight[i];
}

/* Blocks [first, last) of x (each QK values) into the row's codes, scales and sums. */
static void quantize_blocks(const float *x, int first, int last, quantized_row row) {
    for (int block = first; block < last; block++) {
        const float *src = x + block * QK;
#ifdef __AVX2__
        /* as the scalar code below: codes rounded to nearest even (the default MXCSR mode, as lrintf) */
        const __m256 sign = _mm256_set1_ps(-0.0f);
        __m256 v[4], top = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(src + 8 * i);
            top = _mm256_max_ps(top, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 half = _mm_max_ps(_mm256_castps256_ps128(top), _mm256_extractf128_ps(top, 1));
        half = _mm_max_ps(half, _mm_movehl_ps(half, half));
        half = _mm_max_ss(half, _mm_movehdup_ps(half));
        const float amax = _mm_cvtss_f32(half);
        const float scale = amax / 127.0f, inverse = amax > 0 ? 127.0f / amax : 0.0f;
        const __m256 by = _mm256_set1_ps(inverse);
        __m256i q[4];
        for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], by));
        __m256i total = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
        sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0x4E));
        sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0xB1));
        __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(row.q + block * QK), packed);
        row.s[block] = scale;
        row.sum[block] = scale * (float)_mm_cvtsi128_si32(sum4);
#else
        float amax = 0;
        for (int i = 0; i < QK; i++) amax = fmaxf(amax, fabsf(src[i]));
        float scale = amax / 127.0f, inverse = amax > 0 ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int i = 0; i < QK; i++) {
            int q = (int)lrintf(src[i] * inverse);
            row.q[block * QK + i] = (int8_t)q;
            sum += q;
        }
        row.s[block] = scale;
        row.sum[block] = scale * (float)sum;
#endif
    }
}

static void quantize(const float *x, int n, quantized_row row) { quantize_blocks(x, 0, n / QK, row); }

/* x[i] = exp(x[i]) (AVX2: Cephes' polynomial, within 2 ulp of expf on [-87, 88]). */
static void exp_inplace(float *x, int n) {
    int i = 0;
#ifdef __AVX2__
    const __m256 high = _mm256_set1_ps(88.3762626647949f), low = _mm256_set1_ps(-87.0f);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f), half = _mm256_set1_ps(0.5f);
    const __m256 c1 = _mm256_set1_ps(0.693359375f), c2 = _mm256_set1_ps(-2.12194440e-4f), one = _mm256_set1_ps(1.0f);
    const float p[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                        4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_max_ps(_mm256_min_ps(_mm256_loadu_ps(x + i), high), low);
        __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(v, log2e, half));
        v = _mm256_fnmadd_ps(fx, c2, _mm256_fnmadd_ps(fx, c1, v));
        __m256 y = _mm256_set1_ps(p[0]);
        for (int k = 1; k < 6; k++) y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(p[k]));
        y = _mm256_add_ps(_mm256_fmadd_ps(y, _mm256_mul_ps(v, v), v), one);
        __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(0x7F)), 23);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(y, _mm256_castsi256_ps(exponent)));
    }
#endif
    for (; i < n; i++) x[i] = expf(x[i]);
}

#ifdef __AVX2__
static inline float hsum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}
#endif

/* IEEE half <-> float; to half rounds to nearest even, as torch and F16C do (the KV cache is half). */
static inline float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F)
        bits = sign | 0x7F800000 | (mantissa << 13);
    else if (exponent)
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    else if (!mantissa)
        bits = sign;
    else {
        float value = ldexpf((float)mantissa, -24);
        return sign ? -value : value;
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint16_t float_to_half(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    const uint16_t sign = (bits >> 16) & 0x8000;
    const uint32_t magnitude = bits & 0x7FFFFFFF;
    if (magnitude > 0x7F800000) return sign | 0x7E00; /* nan */
    if (magnitude >= 0x477FF000) return sign | 0x7C00; /* rounds beyond 65504: inf */
    if (magnitude < 0x38800000) { /* below the smallest normal half: a multiple of 2^-24 */
        float value;
        memcpy(&value, &magnitude, sizeof value);
        return sign | (uint16_t)rintf(value * 0x1p24f);
    }
    return sign | (uint16_t)((magnitude + 0xFFF + ((magnitude >> 13) & 1) - 0x38000000) >> 13);
}

#if defined(__AVX2__) && defined(__F16C__)
#define HALF_VECTORS 1
static inline __m256 load_half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
#endif

/* to[i] = half(from[i]) for i < n */
static void store_half(uint16_t *to, const float *from, int n) {
    int i = 0;
#ifdef HALF_VECTORS
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(to + i), _mm256_cvtps_ph(_mm256_loadu_ps(from + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; i++) to[i] = float_to_half(from[i]);
}

/* sum(a[i] * b[i]) for i < n. */
static inline float dot_f32(const float *a, const float *b, int n) {
    int i = 0;
    float total = 0;
#ifdef __AVX2__
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    total = hsum(acc);
#endif
    for (; i < n; i++) total += a[i] * b[i];
    return total;
}

/* One output, portable C (outputs the AVX2 kernels leave, or every output without AVX2). */
static void matmul_one(const matrix *mat, const quantized_row *rows, int count, float *out, int stride, int o) {
    const int blocks = mat->in / QK;
    for (int r = 0; r < count; r++) {
            const quantized_row *row = &rows[r];
            float total = 0;
            for (int b = 0; b < blocks; b++) {
                int dot = 0;
                if (mat->kind == KIND_Q4X8) {
                    const q4x8_block *w = mat->groups + (size_t)(o / 8) * blocks + b;
                    for (int i = 0; i < QK; i++) {
                        const int chunk = i / 4, byte = w->qs[(chunk % 4) * 32 + (o % 8) * 4 + i % 4];
                        dot += (chunk < 4 ? byte & 0x0F : byte >> 4) * row->q[b * QK + i];
                    }
                    total += (float)dot * (half_to_float(w->d[o % 8]) * row->s[b]) +
                             half_to_float(w->m[o % 8]) * row->sum[b];
                } else if (mat->kind == KIND_Q8X8) {
                    const int8_t *w = mat->codes + ((size_t)(o / 8) * blocks + b) * 8 * QK;
                    for (int i = 0; i < QK; i++) dot += w[(i / 4) * 32 + (o % 8) * 4 + i % 4] * row->q[b * QK + i];
                    total += (float)dot * row->s[b];
                } else if (mat->kind == KIND_Q4) {
                    const q4_block *w = mat->blocks + (size_t)o * blocks + b;
                    for (int i = 0; i < QK / 2; i++)
                        dot += (w->qs[i] & 0x0F) * row->q[b * QK + i] + (w->qs[i] >> 4) * row->q[b * QK + QK / 2 + i];
                    total += (float)dot * (half_to_float(w->d) * row->s[b]) + half_to_float(w->m) * row->sum[b];
                } else {
                    const int8_t *w = mat->codes + (size_t)o * mat->in + b * QK;
                    for (int i = 0; i < QK; i++) dot += w[i] * row->q[b * QK + i];
                    total += (float)dot * row->s[b];
                }
            }
            out[(size_t)r * stride + o] = mat->kind == KIND_Q8 || mat->kind == KIND_Q8X8 ? mat->scale[o] * total : total;
    }
}

#ifdef __AVX2__
/* Two outputs (o, o + 1) at a time for R rows: 2 * R independent accumulators hide the FMA latency. */
#define MAX_BLOCKS 512 /* the Q4 tiles take inputs up to 16,384; wider ones go through matmul_one */

#define MATMUL_Q4_TILE(R)                                                                                            \
    static void matmul_q4_##R(const matrix *mat, const quantized_row *rows, float *out, int stride, int o) {        \
        const int blocks = mat->in / QK;                                                                             \
        const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F);                                     \
        const q4_block *w0 = mat->blocks + (size_t)o * blocks, *w1 = w0 + blocks;                                    \
        float mins0[MAX_BLOCKS], mins1[MAX_BLOCKS]; /* the blocks' m, for the rows' sum terms after the loop */     \
        __m256 acc0[R], acc1[R];                                                                                     \
        for (int t = 0; t < R; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();                                         \
        for (int b = 0; b < blocks; b++) {                                                                           \
            _mm_prefetch((const char *)(w0 + b) + PREFETCH_BYTES, _MM_HINT_T0);                                      \
            _mm_prefetch((const char *)(w1 + b) + PREFETCH_BYTES, _MM_HINT_T0);                                      \
            __m128i p0 = _mm_loadu_si128((const __m128i *)w0[b].qs);                                                 \
            __m128i p1 = _mm_loadu_si128((const __m128i *)w1[b].qs);                                                 \
            __m256i c0 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(p0, 4), p0), low);                         \
            __m256i c1 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(p1, 4), p1), low);                         \
            const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(w0[b].d)), d1 = _mm256_set1_ps(_cvtsh_ss(w1[b].d));           \
            mins0[b] = _cvtsh_ss(w0[b].m), mins1[b] = _cvtsh_ss(w1[b].m);                                            \
            for (int t = 0; t < R; t++) {                                                                            \
                __m256i a = _mm256_loadu_si256((const __m256i *)(rows[t].q + b * QK));                              \
                const __m256 s = _mm256_broadcast_ss(rows[t].s + b);                                                 \
                __m256 x0 = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(c0, a), ones));               \
                __m256 x1 = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(c1, a), ones));               \
                acc0[t] = _mm256_fmadd_ps(x0, _mm256_mul_ps(d0, s), acc0[t]);                                        \
                acc1[t] = _mm256_fmadd_ps(x1, _mm256_mul_ps(d1, s), acc1[t]);                                        \
            }                                                                                                        \
        }                                                                                                            \
        for (int t = 0; t < R; t++) {                                                                                \
            out[(size_t)t * stride + o] = hsum(acc0[t]) + dot_f32(mins0, rows[t].sum, blocks);                       \
            out[(size_t)t * stride + o + 1] = hsum(acc1[t]) + dot_f32(mins1, rows[t].sum, blocks);                   \
        }                                                                                                            \
    }

#define MATMUL_Q8_TILE(R)                                                                                            \
    static void matmul_q8_##R(const matrix *mat, const quantized_row *rows, float *out, int stride, int o) {        \
        const int blocks = mat->in / QK;                                                                             \
        const __m256i ones = _mm256_set1_epi16(1);                                                                   \
        const int8_t *w0 = mat->codes + (size_t)o * mat->in, *w1 = w0 + mat->in;                                     \
        __m256 acc0[R], acc1[R];                                                                                     \
        for (int t = 0; t < R; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();                                         \
        for (int b = 0; b < blocks; b++) {                                                                           \
            _mm_prefetch((const char *)(w0 + b * QK + PREFETCH_BYTES), _MM_HINT_T0);                                 \
            _mm_prefetch((const char *)(w1 + b * QK + PREFETCH_BYTES), _MM_HINT_T0);                                 \
            __m256i c0 = _mm256_loadu_si256((const __m256i *)(w0 + b * QK));                                        \
            __m256i c1 = _mm256_loadu_si256((const __m256i *)(w1 + b * QK));                                        \
            __m256i u0 = _mm256_sign_epi8(c0, c0), u1 = _mm256_sign_epi8(c1, c1);                                    \
            for (int t = 0; t < R; t++) {                                                                            \
                __m256i a = _mm256_loadu_si256((const __m256i *)(rows[t].q + b * QK));                              \
                const __m256 s = _mm256_broadcast_ss(rows[t].s + b);                                                 \
                __m256i a0 = _mm256_sign_epi8(a, c0), a1 = _mm256_sign_epi8(a, c1);                                  \
                __m256 x0 = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u0, a0), ones));              \
                __m256 x1 = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u1, a1), ones));              \
                acc0[t] = _mm256_fmadd_ps(x0, s, acc0[t]);                                                           \
                acc1[t] = _mm256_fmadd_ps(x1, s, acc1[t]);                                                           \
            }                                                                                                        \
        }                                                                                                            \
        for (int t = 0; t < R; t++) {                                                                                \
            out[(size_t)t * stride + o] = mat->scale[o] * hsum(acc0[t]);                                                 \
            out[(size_t)t * stride + o + 1] = mat->scale[o + 1] * hsum(acc1[t]);                                         \
        }                                                                                                            \
    }

MATMUL_Q4_TILE(1)
MATMUL_Q4_TILE(2)
MATMUL_Q4_TILE(3)
MATMUL_Q4_TILE(4)
MATMUL_Q8_TILE(1)
MATMUL_Q8_TILE(2)
MATMUL_Q8_TILE(3)
MATMUL_Q8_TILE(4)

#define Q4X8_ROWS 8

/* The 8 outputs' int32 sums of one block: codes[c] holds inputs 4c..4c+3 of each output, a[c] those of the
 * activations. VNNI's dot product accumulates in int32 at once; AVX2 sums the 8 maddubs in int16 first. */
static inline __m256i dot_q4x8(const __m256i codes[8], const int32_t a[8], __m256i ones) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    (void)ones;
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256(); /* two chains: half the latency */
    for (int c = 0; c < 8; c += 2) {
        even = _mm256_dpbusd_epi32(even, codes[c], _mm256_set1_epi32(a[c]));
        odd = _mm256_dpbusd_epi32(odd, codes[c + 1], _mm256_set1_epi32(a[c + 1]));
    }
    return _mm256_add_epi32(even, odd);
#else
    __m256i sum = _mm256_maddubs_epi16(codes[0], _mm256_set1_epi32(a[0]));
    for (int c = 1; c < 8; c++) sum = _mm256_add_epi16(sum, _mm256_maddubs_epi16(codes[c], _mm256_set1_epi32(a[c])));
    return _mm256_madd_epi16(sum, ones);
#endif
}

/* The same for int8 weights: their magnitudes against the activations signed as the weights are (AVX2:
 * maddubs, at most 2 * 127 * 127 per pair, then madd per chunk; VNNI: dpbusd). */
static inline __m256i dot_q8x8(const __m256i magnitudes[8], const __m256i codes[8], const int32_t a[8],
                               __m256i ones) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    (void)ones;
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
    for (int c = 0; c < 8; c += 2) {
        even = _mm256_dpbusd_epi32(even, magnitudes[c], _mm256_sign_epi8(_mm256_set1_epi32(a[c]), codes[c]));
        odd = _mm256_dpbusd_epi32(odd, magnitudes[c + 1], _mm256_sign_epi8(_mm256_set1_epi32(a[c + 1]), codes[c + 1]));
    }
    return _mm256_add_epi32(even, odd);
#else
    __m256i sum = _mm256_setzero_si256();
    for (int c = 0; c < 8; c++) {
        const __m256i pairs = _mm256_maddubs_epi16(magnitudes[c], _mm256_sign_epi8(_mm256_set1_epi32(a[c]), codes[c]));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones));
    }
    return sum;
#endif
}

/* Eight outputs (o..o + 7) of an interleaved matrix for R rows, ``kind`` Q4X8 or Q8X8 (both constants once
 * inlined into the tiles below): per block, 8 dot products of the unpacked weights against 4 activation bytes
 * broadcast, then one convert and, for all eight outputs, two FMAs (Q4: the scale d, then m times the
 * block's activation sum) or one (Q8: its rows' scales multiply at the end). No horizontal sums. */
static inline __attribute__((always_inline)) void matmul_x8(const matrix *mat, const quantized_row *rows, float *out,
                                                            int stride, int o, const int R, const int kind) {
    const int blocks = mat->in / QK;
    const size_t block_bytes = kind == KIND_Q4X8 ? sizeof(q4x8_block) : 8 * QK;
    const uint8_t *w = (kind == KIND_Q4X8 ? (const uint8_t *)mat->groups : (const uint8_t *)mat->codes) +
                       (size_t)(o / 8) * blocks * block_bytes;
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[Q4X8_ROWS];
    for (int t = 0; t < R; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = w + (size_t)b * block_bytes;
        for (int j = 0; j < 4; j++) _mm_prefetch((const char *)block + PREFETCH_BYTES + 64 * j, _MM_HINT_T0);
        __m256i codes[8], magnitudes[8];
        __m256 d = _mm256_setzero_ps(), m = d;
        if (kind == KIND_Q4X8) {
            const q4x8_block *q4 = (const q4x8_block *)block;
            for (int j = 0; j < 4; j++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(q4->qs + 32 * j));
                codes[j] = _mm256_and_si256(v, low);
                codes[j + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            }
            d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)q4->d));
            m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)q4->m));
        } else {
            for (int c = 0; c < 8; c++) {
                codes[c] = _mm256_loadu_si256((const __m256i *)(block + 32 * c));
                magnitudes[c] = _mm256_sign_epi8(codes[c], codes[c]);
            }
        }
        for (int t = 0; t < R; t++) {
            int32_t a[8];
            memcpy(a, rows[t].q + b * QK, sizeof a);
            const __m256 s = _mm256_broadcast_ss(rows[t].s + b);
            if (kind == KIND_Q4X8) {
                const __m256 x = _mm256_cvtepi32_ps(dot_q4x8(codes, a, ones));
                acc[t] = _mm256_fmadd_ps(x, _mm256_mul_ps(d, s), acc[t]);
                acc[t] = _mm256_fmadd_ps(m, _mm256_broadcast_ss(rows[t].sum + b), acc[t]);
            } else {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8x8(magnitudes, codes, a, ones)), s, acc[t]);
            }
        }
    }
    const __m256 scale = kind == KIND_Q8X8 ? _mm256_loadu_ps(mat->scale + o) : _mm256_set1_ps(1.0f);
    for (int t = 0; t < R; t++)
        _mm256_storeu_ps(out + (size_t)t * stride + o, kind == KIND_Q8X8 ? _mm256_mul_ps(acc[t], scale) : acc[t]);
}

#define MATMUL_X8_TILES(R)                                                                                           \
    static void matmul_q4x8_##R(const matrix *mat, const quantized_row *rows, float *out, int stride, int o) {      \
        matmul_x8(mat, rows, out, stride, o, R, KIND_Q4X8);                                                          \
    }                                                                                                                \
    static void matmul_q8x8_##R(const matrix *mat, const quantized_row *rows, float *out, int stride, int o) {      \
        matmul_x8(mat, rows, out, stride, o, R, KIND_Q8X8);                                                          \
    }

MATMUL_X8_TILES(1)
MATMUL_X8_TILES(2)
MATMUL_X8_TILES(3)
MATMUL_X8_TILES(4)
MATMUL_X8_TILES(5)
MATMUL_X8_TILES(6)
MATMUL_X8_TILES(7)
MATMUL_X8_TILES(8)

typedef void (*tile_kernel)(const matrix *, const quantized_row *, float *, int, int);
static const tile_kernel Q4X8_TILES[Q4X8_ROWS + 1] = {NULL,         matmul_q4x8_1, matmul_q4x8_2,
                                                      matmul_q4x8_3, matmul_q4x8_4, matmul_q4x8_5,
                                                      matmul_q4x8_6, matmul_q4x8_7, matmul_q4x8_8};
static const tile_kernel Q8X8_TILES[Q4X8_ROWS + 1] = {NULL,         matmul_q8x8_1, matmul_q8x8_2,
                                                      matmul_q8x8_3, matmul_q8x8_4, matmul_q8x8_5,
                                                      matmul_q8x8_6, matmul_q8x8_7, matmul_q8x8_8};
static const tile_kernel Q4_TILES[ROW_TILE + 1] = {NULL, matmul_q4_1, matmul_q4_2, matmul_q4_3, matmul_q4_4};
static const tile_kernel Q8_TILES[ROW_TILE + 1] = {NULL, matmul_q8_1, matmul_q8_2, matmul_q8_3, matmul_q8_4};

/* out[r][o] for the rows' quantized activations, outputs [first, last) (an even count). */
static void matmul_range(const matrix *mat, const quantized_row *rows, int count, float *out, int stride, int first,
                         int last) {
    if (mat->kind == KIND_Q4X8 || mat->kind == KIND_Q8X8) { /* first and last are multiples of 8 (PIECE) */
        const tile_kernel *eights = mat->kind == KIND_Q4X8 ? Q4X8_TILES : Q8X8_TILES;
        for (int o = first; o < last; o += 8)
            for (int r = 0; r < count; r += Q4X8_ROWS) {
                const int tile = count - r < Q4X8_ROWS ? count - r : Q4X8_ROWS;
                eights[tile](mat, rows + r, out + (size_t)r * stride, stride, o);
            }
        return;
    }
    const tile_kernel *tiles = mat->kind == KIND_Q4 ? Q4_TILES : Q8_TILES;
    if (mat->kind == KIND_Q4 && mat->in / QK > MAX_BLOCKS) {
        for (int o = first; o < last; o++) matmul_one(mat, rows, count, out, stride, o);
        return;
    }
    int o = first;
    for (; o + 1 < last; o += 2)
        for (int r = 0; r < count; r += ROW_TILE) {
            const int tile = count - r < ROW_TILE ? count - r : ROW_TILE;
            tiles[tile](mat, rows + r, out + (size_t)r * stride, stride, o);
        }
    if (o < last) matmul_one(mat, rows, count, out, stride, o);
}
#else
static void matmul_range(const matrix *mat, const quantized_row *rows, int count, float *out, int stride, int first,
                         int last) {
    for (int o = first; o < last; o++) matmul_one(mat, rows, count, out, stride, o);
}
#endif

/* out[r][first:last] = mat[first:last] . rows[r] (+ bias). */
static void matmul_slice(const matrix *mat, const quantized_row *rows, int count, float *out, int first, int last) {
    if (first >= last) return;
    matmul_range(mat, rows, count, out, mat->out, first, last);
    if (mat->bias)
        for (int r = 0; r < count; r++)
            for (int o = first; o < last; o++) out[(size_t)r * mat->out + o] += mat->bias[o];
}

/* Outputs are handed out in pieces of this many, first come first served: a thread the OS preempts holds
 * back one piece, not half the matrix, while the other takes the rest. */
#define PIECE 64

/* Inside a parallel region: out[r] = mat . rows[r] (+ bias), the outputs shared among the threads. */
static void matmul(const matrix *mat, const quantized_row *rows, int count, float *out) {
    const int pieces = (mat->out + PIECE - 1) / PIECE;
#pragma omp for schedule(dynamic, 1)
    for (int piece = 0; piece < pieces; piece++) {
        const int first = piece * PIECE, last = first + PIECE < mat->out ? first + PIECE : mat->out;
        matmul_slice(mat, rows, count, out, first, last);
    }
}

/* Quantize ``count`` rows of ``n`` values (stride n) into ``rows``, the rows shared among the threads. */
static void quantize_rows(const float *x, int n, quantized_row *rows, int count) {
#pragma omp for schedule(static)
    for (int r = 0; r < count; r++) quantize(x + (size_t)r * n, n, rows[r]);
}

/* ``x * cos + roll(x, half) * signed_sin`` in place (rotate_half's sign folded into the table). */
static void rope(float *x, const float *cos, const float *sin, int dim) {
    const int half = dim / 2;
    float rotated[512];
    for (int i = 0; i < dim; i++) rotated[i] = x[(i + half) % dim];
    for (int i = 0; i < dim; i++) x[i] = x[i] * cos[i] + rotated[i] * sin[i];
}

#ifdef __AVX2__
/* The sums of eight vectors, in order: [sum(v[0]), ..., sum(v[7])]. */
static inline __m256 hsum8(const __m256 v[8]) {
    const __m256 s01 = _mm256_hadd_ps(v[0], v[1]), s23 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 s45 = _mm256_hadd_ps(v[4], v[5]), s67 = _mm256_hadd_ps(v[6], v[7]);
    const __m256 low = _mm256_hadd_ps(s01, s23), high = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(low, high, 0x20), _mm256_permute2f128_ps(low, high, 0x31));
}
#endif

/* sum(q[i] * keys[i]) for i < n, keys in half. */
static inline float dot_half(const float *q, const uint16_t *keys, int n) {
    int i = 0;
    float total = 0;
#ifdef HALF_VECTORS
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load_half8(keys + i), acc);
    total = hsum(acc);
#endif
    for (; i < n; i++) total += q[i] * half_to_float(keys[i]);
    return total;
}

/* scores[t] = scale * q . keys[t] for t < n, eight keys at a time (no horizontal sum per key). */
static void attention_scores(const float *q, const uint16_t *keys, int n, int dim, float scale, float *scores) {
    int t = 0;
#ifdef HALF_VECTORS
    if (dim % 8 == 0)
        for (; t + 8 <= n; t += 8) {
            __m256 acc[8];
            for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
            for (int i = 0; i < dim; i += 8) {
                const __m256 qi = _mm256_loadu_ps(q + i);
                for (int k = 0; k < 8; k++)
                    acc[k] = _mm256_fmadd_ps(qi, load_half8(keys + (size_t)(t + k) * dim + i), acc[k]);
            }
            _mm256_storeu_ps(scores + t, _mm256_mul_ps(hsum8(acc), _mm256_set1_ps(scale)));
        }
#endif
    for (; t < n; t++) scores[t] = dot_half(q, keys + (size_t)t * dim, dim) * scale;
}

/* scores[t] = exp(scores[t] - max) for t < n; answers their sum. */
static float softmax_weights(float *scores, int n) {
    float top = -INFINITY, total = 0;
    int t = 0;
#ifdef __AVX2__
    __m256 tops = _mm256_set1_ps(-INFINITY);
    for (; t + 8 <= n; t += 8) tops = _mm256_max_ps(tops, _mm256_loadu_ps(scores + t));
    float lanes[8];
    _mm256_storeu_ps(lanes, tops);
    for (int k = 0; k < 8; k++) top = lanes[k] > top ? lanes[k] : top;
#endif
    for (; t < n; t++) top = scores[t] > top ? scores[t] : top;
    for (t = 0; t < n; t++) scores[t] -= top;
    exp_inplace(scores, n);
    t = 0;
#ifdef __AVX2__
    __m256 sums = _mm256_setzero_ps();
    for (; t + 8 <= n; t += 8) sums = _mm256_add_ps(sums, _mm256_loadu_ps(scores + t));
    total = hsum(sums);
#endif
    for (; t < n; t++) total += scores[t];
    return total;
}

/* out = sum(weights[t] * values[t]) / total (values in half), 64 dimensions at a time held in registers. */
static void weighted_values(const float *weights, const uint16_t *values, int n, int dim, float total, float *out) {
    const float inverse = 1.0f / total;
    int i = 0;
#ifdef HALF_VECTORS
    if (dim % 8 == 0) {
        const __m256 scale = _mm256_set1_ps(inverse);
        for (; i + 64 <= dim; i += 64) {
            __m256 acc[8];
            for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
            for (int t = 0; t < n; t++) {
                const __m256 w = _mm256_broadcast_ss(weights + t);
                const uint16_t *v = values + (size_t)t * dim + i;
                for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(w, load_half8(v + 8 * j), acc[j]);
            }
            for (int j = 0; j < 8; j++) _mm256_storeu_ps(out + i + 8 * j, _mm256_mul_ps(acc[j], scale));
        }
        for (; i < dim; i += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int t = 0; t < n; t++)
                acc = _mm256_fmadd_ps(_mm256_broadcast_ss(weights + t), load_half8(values + (size_t)t * dim + i), acc);
            _mm256_storeu_ps(out + i, _mm256_mul_ps(acc, scale));
        }
    }
#endif
    for (; i < dim; i++) {
        float sum = 0;
        for (int t = 0; t < n; t++) sum += weights[t] * half_to_float(values[(size_t)t * dim + i]);
        out[i] = sum * inverse;
    }
}

/* One query head of one row over its positions 0..position of its KV head. */
static void attend(const float *q, const uint16_t *keys, const uint16_t *values, int position, int dim, float scale,
                   float *scores, float *out) {
    const int n = position + 1;
    attention_scores(q, keys, n, dim, scale, scores);
    weighted_values(scores, values, n, dim, softmax_weights(scores, n), out);
}

/* out[i] = silu(gate[i]) * up[i] */
static void silu_times(const float *gate, const float *up, float *out, int n) {
    for (int i = 0; i < n; i++) out[i] = -gate[i];
    exp_inplace(out, n);
    for (int i = 0; i < n; i++) out[i] = gate[i] / (1.0f + out[i]) * up[i];
}

/* The longest input of any matmul: the hidden size, the attention's width or the MLP's. */
static int widest_input(const model *mdl) {
    int widest = mdl->hidden > mdl->inter ? mdl->hidden : mdl->inter;
    return widest > mdl->heads * mdl->head_dim ? widest : mdl->heads * mdl->head_dim;
}

/* Carves 64-byte aligned pieces out of the caller's scratch (or only counts them when ``base`` is NULL). */
typedef struct {
    char *base;
    size_t used;
} arena;

static void *take(arena *a, size_t bytes) {
    a->used = (a->used + 63) & ~(size_t)63;
    void *piece = a->base ? a->base + a->used : NULL;
    a->used += bytes;
    return piece;
}

static quantized_row *take_rows(arena *a, int count, int width) {
    quantized_row *rows = take(a, sizeof(quantized_row) * (size_t)count);
    int8_t *codes = take(a, (size_t)count * width);
    float *scales = take(a, sizeof(float) * 2 * (size_t)count * (width / QK));
    if (rows)
        for (int r = 0; r < count; r++) {
            rows[r].q = codes + (size_t)r * width;
            rows[r].s = scales + (size_t)r * 2 * (width / QK);
            rows[r].sum = rows[r].s + width / QK;
        }
    return rows;
}

/* What every thread keeps for itself: the residual stream of the rows, normalized and quantized. Every
 * thread computes it identically, so the norms need no barrier and no thread waits for another's. */
typedef struct {
    float *residual, *normed;
    quantized_row *rows;
} own_state;

typedef struct {
    float *wide, *act, *attended, *scores;
    float *o_out, *down_out; /* read by every thread's norm while the next matmul writes b.wide */
    quantized_row *rows; /* the attention's output, then the MLP's activation, quantized */
    own_state own[64];
} buffers;

static int threads_of(int threads) { return threads < 1 ? 1 : threads > 64 ? 64 : threads; }

static buffers carve(const model *mdl, arena *a, int count, int context, int threads) {
    const int qkv = (mdl->heads + 2 * mdl->kv_heads) * mdl->head_dim;
    const int widest = 2 * mdl->inter > qkv ? 2 * mdl->inter : qkv;
    const size_t f = sizeof(float);
    buffers b;
    b.wide = take(a, f * count * (size_t)(widest > mdl->hidden ? widest : mdl->hidden));
    b.act = take(a, f * count * (size_t)mdl->inter);
    b.o_out = take(a, f * count * (size_t)mdl->hidden);
    b.down_out = take(a, f * count * (size_t)mdl->hidden);
    b.attended = take(a, f * count * (size_t)mdl->heads * mdl->head_dim);
    b.scores = take(a, f * count * (size_t)mdl->heads * context);
    b.rows = take_rows(a, count, widest_input(mdl));
    for (int t = 0; t < threads; t++) {
        b.own[t].residual = take(a, f * count * (size_t)mdl->hidden);
        b.own[t].normed = take(a, f * count * (size_t)mdl->hidden);
        b.own[t].rows = take_rows(a, count, mdl->hidden);
    }
    return b;
}

size_t nd_scratch_bytes(const model *mdl, int count, int context, int threads) {
    arena a = {NULL, 0};
    carve(mdl, &a, count, context, threads_of(threads));
    return a.used + 64;
}

/* residual (+ add), then its norm quantized into rows: this thread's own copy of every row. */
static void own_norm(const model *mdl, own_state *own, const float *add, const float *weight, int count) {
    for (int r = 0; r < count; r++) {
        float *x = own->residual + (size_t)r * mdl->hidden, *normed = own->normed + (size_t)r * mdl->hidden;
        if (add)
            for (int i = 0; i < mdl->hidden; i++) x[i] += add[(size_t)r * mdl->hidden + i];
        rms_norm(x, weight, normed, mdl->hidden, mdl->eps);
        quantize(normed, mdl->hidden, own->rows[r]);
    }
}

/* The decoded rows of one step.
 * x: [count][hidden] float32 embeddings of their tokens.
 * positions: each row's position (its tokens in the cache before this one).
 * keys/values: each row's cache base address (IEEE half); layer_stride/head_stride: elements between layers
 *   and between KV heads; the token at position t of KV head h of layer l is at base + l * layer_stride + h * head_stride + t * head_dim.
 * cos/sin: [max positions][head_dim] RoPE tables. logits: [count][vocab].
 * scratch: nd_scratch_bytes(model, count, context, threads) bytes, context > every position.
 * Five barriers a layer: after q/k/v, the attention, o, the MLP's gate/up (with its activation) and down. */
int nd_decode(const model *mdl, int count, const float *x, const int32_t *positions, const int64_t *keys,
              const int64_t *values, const int64_t *layer_stride, const int64_t *head_stride, const float *cos,
              const float *sin, float *logits, void *scratch, int context, int threads) {
    const int hidden = mdl->hidden, heads = mdl->heads, kv_heads = mdl->kv_heads, dim = mdl->head_dim;
    const int group = heads / kv_heads, qkv_width = (heads + 2 * kv_heads) * dim, inter = mdl->inter;
    if (dim > 512 || hidden % QK || inter % QK || (heads * dim) % QK || heads % kv_heads) return -1;
    threads = threads_of(threads);
    arena a = {scratch, 0};
    buffers b = carve(mdl, &a, count, context, threads);
    /* each KV head's group of query heads quantizes its own output where its width is whole blocks */
    const int group_blocks = (group * dim) % QK == 0;
#pragma omp parallel num_threads(threads)
    {
        own_state *own = &b.own[omp_get_thread_num()];
        memcpy(own->residual, x, sizeof(float) * (size_t)count * hidden);
        for (int index = 0; index < mdl->layers; index++) {
            const layer *l = &mdl->layer[index];
            own_norm(mdl, own, index ? b.down_out : NULL, l->input_norm, count);
            matmul(&l->qkv, own->rows, count, b.wide);
            /* per row and KV head: its key and value into the cache, then its query heads' attention */
#pragma omp for schedule(dynamic, 1)
            for (int task = 0; task < count * kv_heads; task++) {
                const int r = task / kv_heads, kv = task % kv_heads;
                float *q = b.wide + (size_t)r * qkv_width, *k = q + (heads + kv) * dim, *v = q + (heads + kv_heads + kv) * dim;
                const float *c = cos + (size_t)positions[r] * dim, *s = sin + (size_t)positions[r] * dim;
                if (l->k_norm) rms_norm(k, l->k_norm, k, dim, mdl->eps);
                rope(k, c, s, dim);
                size_t at = (size_t)index * layer_stride[r] + (size_t)kv * head_stride[r];
                uint16_t *cache_keys = (uint16_t *)keys[r] + at, *cache_values = (uint16_t *)values[r] + at;
                store_half(cache_keys + (size_t)positions[r] * dim, k, dim);
                store_half(cache_values + (size_t)positions[r] * dim, v, dim);
                float *out = b.attended + (size_t)r * heads * dim;
                for (int h = kv * group; h < (kv + 1) * group; h++) {
                    float *head = q + h * dim;
                    if (l->q_norm) rms_norm(head, l->q_norm, head, dim, mdl->eps);
                    rope(head, c, s, dim);
                    attend(head, cache_keys, cache_values, positions[r], dim, mdl->attn_scale,
                           b.scores + ((size_t)r * heads + h) * context, out + h * dim);
                }
                if (group_blocks) quantize_blocks(out, kv * group * dim / QK, (kv + 1) * group * dim / QK, b.rows[r]);
            }
            if (!group_blocks) quantize_rows(b.attended, heads * dim, b.rows, count);
            matmul(&l->o, b.rows, count, b.o_out);
            own_norm(mdl, own, b.o_out, l->post_norm, count);
            /* gate and up of the same features together, so their activation needs no other barrier */
            const int features = (inter + PIECE - 1) / PIECE;
#pragma omp for schedule(dynamic, 1)
            for (int piece = 0; piece < features; piece++) {
                const int first = piece * PIECE, last = first + PIECE < inter ? first + PIECE : inter;
                matmul_slice(&l->gate_up, own->rows, count, b.wide, first, last);
                matmul_slice(&l->gate_up, own->rows, count, b.wide, inter + first, inter + last);
                for (int r = 0; r < count; r++) {
                    const float *gate = b.wide + (size_t)r * 2 * inter;
                    float *act = b.act + (size_t)r * inter;
                    silu_times(gate + first, gate + inter + first, act + first, last - first);
                    quantize_blocks(act, first / QK, last / QK, b.rows[r]);
                }
            }
            matmul(&l->down, b.rows, count, b.down_out);
        }
        own_norm(mdl, own, b.down_out, mdl->final_norm, count);
        matmul(&mdl->head, own->rows, count, logits);
    }
    return 0;
}

/* out[r] = row ids[r] of the int8 LM head, dequantized: a tied embedding reads its rows there.
 * Answers -1 for another kind of head, -2 for an id outside the vocabulary. */
int nd_embed(const model *mdl, int count, const int64_t *ids, float *out) {
    const matrix *head = &mdl->head;
    const int in = head->in, blocks = in / QK;
    if (head->kind != KIND_Q8 && head->kind != KIND_Q8X8) return -1;
    for (int r = 0; r < count; r++)
        if (ids[r] < 0 || ids[r] >= head->out) return -2;
    for (int r = 0; r < count; r++) {
        const float scale = head->scale[ids[r]];
        float *row = out + (size_t)r * in;
        if (head->kind == KIND_Q8) {
            const int8_t *codes = head->codes + (size_t)ids[r] * in;
            for (int i = 0; i < in; i++) row[i] = scale * codes[i];
            continue;
        }
        /* [out / 8][blocks][8 chunks of 4 inputs][8 outputs][4 inputs] */
        const int8_t *group = head->codes + (size_t)(ids[r] / 8) * blocks * QK * 8;
        const int lane = (int)(ids[r] % 8);
        for (int b = 0; b < blocks; b++)
            for (int chunk = 0; chunk < 8; chunk++)
                for (int k = 0; k < 4; k++)
                    row[b * QK + chunk * 4 + k] = scale * group[((b * 8 + chunk) * 8 + lane) * 4 + k];
    }
    return 0;
}

/* to[i] = half(from[i]) for i < n: the rounding the cache's keys and values take. */
void nd_to_half(const float *from, uint16_t *to, int n) { store_half(to, from, n); }

size_t nd_matmul_scratch_bytes(int count, int in) {
    return (size_t)count * (in + 2 * sizeof(float) * (in / QK) + sizeof(quantized_row)) + 128;
}

/* out[count][mat.out] = x[count][mat.in] . mat^T (+ bias), x quantized per block first. */
int nd_matmul(const model *mdl, int index, int which, int count, const float *x, float *out, void *scratch,
              int threads) {
    const matrix *mat = matrix_of((model *)mdl, index, which);
    const int blocks = mat->in / QK;
    int8_t *codes = scratch;
    float *scales = (float *)(((uintptr_t)(codes + (size_t)count * mat->in) + 63) & ~(uintptr_t)63);
    quantized_row *rows = (quantized_row *)(scales + (size_t)count * 2 * blocks);
    for (int r = 0; r < count; r++) {
        rows[r].q = codes + (size_t)r * mat->in;
        rows[r].s = scales + (size_t)r * 2 * blocks;
        rows[r].sum = rows[r].s + blocks;
    }
#pragma omp parallel num_threads(threads)
    {
        quantize_rows(x, mat->in, rows, count);
        matmul(mat, rows, count, out);
    }
    return 0;
}
