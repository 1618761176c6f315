/*
 * Peer for `npm run bench -- gemm`: times OpenBLAS cblas_sgemm on y = x·Wᵀ (row-major
 * x[M,K], W[N,K], y[M,N], as our linear computes it) and prints one JSON line.
 * Usage: openblas_sgemm REPS M,K,N [M,K,N ...]   (threads: OPENBLAS_NUM_THREADS; kernel
 * family: OPENBLAS_CORETYPE, reported back as "core")
 * Each shape: one warm-up call, then REPS timed calls; the median and every time are reported.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char* openblas_get_corename(void);  /* OpenBLAS extension (not in every cblas.h) */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s REPS M,K,N [M,K,N ...]\n", argv[0]);
    return 2;
  }
  int reps = atoi(argv[1]);
  if (reps < 1) reps = 1;
  printf("{\"peer\":\"%s\",\"core\":\"%s\",\"threads\":%d,\"shapes\":[", OPENBLAS_VERSION, openblas_get_corename(),
         openblas_get_num_threads());
  for (int s = 2; s < argc; ++s) {
    long M, K, N;
    if (sscanf(argv[s], "%ld,%ld,%ld", &M, &K, &N) != 3) {
      fprintf(stderr, "bad shape %s\n", argv[s]);
      return 2;
    }
    float* x = malloc(sizeof(float) * M * K);
    float* w = malloc(sizeof(float) * N * K);
    float* y = malloc(sizeof(float) * M * N);
    if (!x || !w || !y) return 3;
    for (long i = 0; i < M * K; ++i) x[i] = (float)((i * 7919 % 2001) - 1000) * 1e-3f;
    for (long i = 0; i < N * K; ++i) w[i] = (float)((i * 104729 % 2001) - 1000) * 1e-3f;
    double* t = malloc(sizeof(double) * reps);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
    for (int r = 0; r < reps; ++r) {
      double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
      t[r] = now() - t0;
    }
    printf("%s{\"M\":%ld,\"K\":%ld,\"N\":%ld,\"times\":[", s > 2 ? "," : "", M, K, N);
    for (int r = 0; r < reps; ++r) printf("%s%.9g", r ? "," : "", t[r]);
    qsort(t, reps, sizeof(double), cmp);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    printf("],\"seconds\":%.9g,\"gflops\":%.4f}", med, 2.0 * M * N * K / med * 1e-9);
    free(x); free(w); free(y); free(t);
  }
  printf("]}\n");
  return 0;
}
