/* tessel's C API: Lightning Attention-2 and its variants (simple GLA,
 * variable-length batches, non-causal, decode) on raw pointers with shapes,
 * strides, dtypes and a device, for bindings to any language (python/ uses
 * it through ctypes). Kernels are JIT-compiled from the DSL on first use
 * and cached, as for the C++ API (kernels/Lightning.h), whose argument
 * rules every call follows. No call aborts: each returns 0, or nonzero
 * with tessel_last_error() saying what was wrong.
 *
 * Streams: on device tensors a call queues its kernels on its `stream` (a
 * CUstream of the device's primary context, e.g. PyTorch's current stream;
 * NULL: the legacy default stream) and returns without waiting for them,
 * except that a device cu_seqlens is read back after the stream's queued
 * work. Host tensors are copied in and out synchronously. */
#ifndef TESSEL_CAPI_TESSEL_H
#define TESSEL_CAPI_TESSEL_H

#include <stdint.h>

#if defined(TESSEL_CAPI_BUILD)
#define TESSEL_API __attribute__((visibility("default")))
#else
#define TESSEL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct or function below changes; bindings check it. */
#define TESSEL_API_VERSION 3

enum tessel_dtype { TESSEL_BF16 = 0, TESSEL_F16 = 1, TESSEL_F32 = 2, TESSEL_I32 = 3 };
enum tessel_layout { TESSEL_BHND = 0, TESSEL_BNHD = 1 };
enum tessel_backend { TESSEL_AUTO = 0, TESSEL_GPU = 1, TESSEL_INTERPRETER = 2 };

/* A strided view; data NULL means absent (an optional argument left out).
 * Strides are in elements; all zero means contiguous. on_device: data is a
 * CUDA device address. */
typedef struct tessel_tensor {
  void *data;
  int32_t dtype; /* enum tessel_dtype */
  int32_t ndim;  /* 0..4 */
  int64_t shape[4];
  int64_t strides[4];
  int32_t on_device;
} tessel_tensor;

/* Where calls run and how their blocks are chosen; one per thread or
 * shared, calls on one context are serialized. */
typedef struct tessel_context tessel_context;

/* NULL on failure (tessel_last_error says why). backend: enum
 * tessel_backend; device: the GPU ordinal. tuned: forward and backward
 * take their block sizes from the tuning cache, tuning on a miss
 * (TunedLightning); 0: the heuristic's. */
TESSEL_API tessel_context *tessel_context_create(int32_t backend, int32_t device,
                                      int32_t tuned);
TESSEL_API void tessel_context_destroy(tessel_context *context);

/* The arguments of kernels/Lightning.h's LightningForwardArgs. */
typedef struct tessel_forward_args {
  tessel_tensor q, k, v, o;
  tessel_tensor slopes;        /* (H) f32, or absent with gates */
  tessel_tensor gates;         /* simple GLA: (B,H,N) / (B,N,H) f32 */
  tessel_tensor initial_state; /* (B,H,D,E) f32 */
  tessel_tensor final_state;   /* output (B,H,D,E) f32 */
  tessel_tensor cu_seqlens;    /* (S+1) i32: a variable-length batch */
  int32_t layout;              /* enum tessel_layout */
  float scale;
  int32_t causal;              /* 0: non-causal */
  void *stream;                /* CUstream; NULL: the legacy default stream */
} tessel_forward_args;

typedef struct tessel_backward_args {
  tessel_tensor q, k, v, d_o;
  tessel_tensor dq, dk, dv;
  tessel_tensor slopes, gates, d_gates;
  tessel_tensor initial_state, d_initial_state, d_final_state;
  tessel_tensor cu_seqlens;
  int32_t layout;
  float scale;
  int32_t causal;
  void *stream;
} tessel_backward_args;

typedef struct tessel_decode_args {
  tessel_tensor q, k, v, o;
  tessel_tensor slopes, gates;
  tessel_tensor state; /* (B,H,D,E) f32, updated in place */
  int32_t layout;
  float scale;
  void *stream;
} tessel_decode_args;

TESSEL_API int32_t tessel_api_version(void);
/* Zeroed arguments with scale 1 and causal 1. */
TESSEL_API void tessel_forward_args_init(tessel_forward_args *args);
TESSEL_API void tessel_backward_args_init(tessel_backward_args *args);
TESSEL_API void tessel_decode_args_init(tessel_decode_args *args);

TESSEL_API int32_t tessel_lightning_forward(tessel_context *context,
                                 const tessel_forward_args *args);
TESSEL_API int32_t tessel_lightning_backward(tessel_context *context,
                                  const tessel_backward_args *args);
TESSEL_API int32_t tessel_lightning_decode(tessel_context *context,
                                const tessel_decode_args *args);

/* SRMSNorm (TransNormerLLM): y = x / sqrt(mean(x²) + eps) over the last
 * dimension; backward dx from x and dy. One shape and dtype for all;
 * leading dimensions collapsible into rows of one stride. `stream` as in
 * the argument structs. */
TESSEL_API int32_t tessel_srms_norm_forward(tessel_context *context,
                                            const tessel_tensor *x,
                                            const tessel_tensor *y, float eps,
                                            void *stream);
TESSEL_API int32_t tessel_srms_norm_backward(tessel_context *context,
                                             const tessel_tensor *x,
                                             const tessel_tensor *dy,
                                             const tessel_tensor *dx, float eps,
                                             void *stream);

/* The last failure's message on this thread; "" after a success. Valid
 * until the next call on this thread. */
TESSEL_API const char *tessel_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* TESSEL_CAPI_TESSEL_H */
