#include <openssl/evp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

// STACK_OF(X509) is handled through macros that Swift cannot call: these wrap the ones the
// OVF signature check needs (the certificates after the signing one, as untrusted).
static inline STACK_OF(X509) *imgship_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int imgship_sk_X509_push(STACK_OF(X509) *stack, X509 *certificate) { return sk_X509_push(stack, certificate); }
static inline void imgship_sk_X509_pop_free(STACK_OF(X509) *stack) { sk_X509_pop_free(stack, X509_free); }
