// Distance kernels (squared L2 and inner-product distance) with run-time SIMD dispatch.
//
// Every kernel is compiled for its own instruction set with a target attribute, so the module
// runs on any x86-64 and picks AVX-512, AVX2+FMA or SSE at run time (scalar elsewhere).
#pragma once

#include <cstddef>
#include <cstdint>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define LOOKALIKE_X86 1
#include <immintrin.h>
#endif

namespace lookalike {
namespace hnsw {

using DistFn = float (*)(const float*, const float*, std::size_t);

inline float l2sq_scalar(const float* a, const float* b, std::size_t d) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1], t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
    s0 += t0 * t0; s1 += t1 * t1; s2 += t2 * t2; s3 += t3 * t3;
  }
  for (; i < d; ++i) { float t = a[i] - b[i]; s0 += t * t; }
  return (s0 + s1) + (s2 + s3);
}

inline float dot_scalar(const float* a, const float* b, std::size_t d) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
  }
  for (; i < d; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

inline float ip_scalar(const float* a, const float* b, std::size_t d) { return 1.0f - dot_scalar(a, b, d); }

#ifdef LOOKALIKE_X86

// ---- SSE (every x86-64 has SSE2) ----
inline float hsum128(__m128 v) {
  __m128 sh = _mm_movehl_ps(v, v);
  v = _mm_add_ps(v, sh);
  sh = _mm_shuffle_ps(v, v, 0x55);
  v = _mm_add_ss(v, sh);
  return _mm_cvtss_f32(v);
}

inline float l2sq_sse(const float* a, const float* b, std::size_t d) {
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    __m128 t0 = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
    __m128 t1 = _mm_sub_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4));
    s0 = _mm_add_ps(s0, _mm_mul_ps(t0, t0));
    s1 = _mm_add_ps(s1, _mm_mul_ps(t1, t1));
  }
  float s = hsum128(_mm_add_ps(s0, s1));
  for (; i < d; ++i) { float t = a[i] - b[i]; s += t * t; }
  return s;
}

inline float ip_sse(const float* a, const float* b, std::size_t d) {
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
  }
  float s = hsum128(_mm_add_ps(s0, s1));
  for (; i < d; ++i) s += a[i] * b[i];
  return 1.0f - s;
}

// ---- AVX2 + FMA ----
__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  return hsum128(_mm_add_ps(lo, hi));
}

__attribute__((target("avx2,fma"))) inline float l2sq_avx2(const float* a, const float* b, std::size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
    s1 = _mm256_fmadd_ps(t1, t1, s1);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) { float t = a[i] - b[i]; s += t * t; }
  return s;
}

__attribute__((target("avx2,fma"))) inline float ip_avx2(const float* a, const float* b, std::size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) s += a[i] * b[i];
  return 1.0f - s;
}

// ---- AVX-512F ----
__attribute__((target("avx512f"))) inline float l2sq_avx512(const float* a, const float* b, std::size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(t0, t0, s0);
    s1 = _mm512_fmadd_ps(t1, t1, s1);
  }
  if (i + 16 <= d) {
    __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(t0, t0, s0);
    i += 16;
  }
  if (i < d) {  // masked tail: no scalar loop
    __mmask16 m = static_cast<__mmask16>((1u << (d - i)) - 1u);
    __m512 t0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(t0, t0, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) inline float ip_avx512(const float* a, const float* b, std::size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  if (i + 16 <= d) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    i += 16;
  }
  if (i < d) {
    __mmask16 m = static_cast<__mmask16>((1u << (d - i)) - 1u);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return 1.0f - _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

#endif  // LOOKALIKE_X86

struct Kernels {
  DistFn l2;
  DistFn ip;
  const char* isa;
};

// Best kernels for this processor; `force` ("avx512", "avx2", "sse", "scalar") caps the choice (tests).
inline Kernels select_kernels(const char* force = nullptr) {
  auto allowed = [&](const char* isa) {
    if (force == nullptr || *force == 0) return true;
    static const char* order[] = {"scalar", "sse", "avx2", "avx512"};
    int f = -1, w = -1;
    for (int i = 0; i < 4; ++i) {
      const char* o = order[i];
      const char* p = force; const char* q = o;
      while (*p && *p == *q) { ++p; ++q; }
      if (!*p && !*q) f = i;
      p = isa; q = o;
      while (*p && *p == *q) { ++p; ++q; }
      if (!*p && !*q) w = i;
    }
    return f < 0 || w <= f;
  };
#ifdef LOOKALIKE_X86
  __builtin_cpu_init();
  if (allowed("avx512") && __builtin_cpu_supports("avx512f")) return {l2sq_avx512, ip_avx512, "avx512"};
  if (allowed("avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {l2sq_avx2, ip_avx2, "avx2"};
  if (allowed("sse")) return {l2sq_sse, ip_sse, "sse"};
#endif
  (void)allowed;
  return {l2sq_scalar, ip_scalar, "scalar"};
}

inline void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

}  // namespace hnsw
}  // namespace lookalike
