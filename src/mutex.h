/* A minimal mutex over the platform's threads, so that the rest of the code stays portable. */
#ifndef CLATTN_MUTEX_H
#define CLATTN_MUTEX_H

#ifdef _WIN32
#include <windows.h>
typedef CRITICAL_SECTION clattn__mutex;
static inline int clattn__mutex_init(clattn__mutex *m) { InitializeCriticalSection(m); return 0; }
static inline void clattn__mutex_destroy(clattn__mutex *m) { DeleteCriticalSection(m); }
static inline void clattn__mutex_lock(clattn__mutex *m) { EnterCriticalSection(m); }
static inline void clattn__mutex_unlock(clattn__mutex *m) { LeaveCriticalSection(m); }
#else
#include <pthread.h>
typedef pthread_mutex_t clattn__mutex;
static inline int clattn__mutex_init(clattn__mutex *m) { return pthread_mutex_init(m, NULL); }
static inline void clattn__mutex_destroy(clattn__mutex *m) { pthread_mutex_destroy(m); }
static inline void clattn__mutex_lock(clattn__mutex *m) { pthread_mutex_lock(m); }
static inline void clattn__mutex_unlock(clattn__mutex *m) { pthread_mutex_unlock(m); }
#endif

#endif
