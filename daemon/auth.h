/* SPDX-License-Identifier: MIT */
/*
 * auth.h - who may ask: loopback by default; anything else only with a
 * bearer token (auth.token_file), compared in constant time.
 */
#ifndef PPROFD_AUTH_H
#define PPROFD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct settings;

/*
 * Whether the host of a listen address ("host:port", "[v6]:port") is
 * loopback only: 127.0.0.0/8, ::1, or a name that resolves to those alone.
 */
bool auth__is_loopback(const char *listen);

/*
 * Start-up: reads the token of s->auth_token_file into a malloc'd *token
 * (NULL when none is configured) and refuses a non-loopback s->listen
 * without one.  Returns 0, or a negative errno with a one-line reason in err.
 */
int auth__load(const struct settings *s, char **token, char *err, size_t errlen);

/*
 * Whether an Authorization header value is "Bearer <token>".  The
 * comparison takes the same time wherever the first difference is.
 */
bool auth__check(const char *authorization, const char *token);

#endif /* PPROFD_AUTH_H */
