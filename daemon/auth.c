// SPDX-License-Identifier: MIT
/* auth.c - see auth.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "auth.h"
#include "config.h"
#include "http.h"

#define TOKEN_MAX 4096

bool auth__is_loopback(const char *listen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *ai;
	char host[256], port[8];
	bool loopback = true;

	if (http__split_address(listen, host, sizeof(host), port, sizeof(port)) ||
	    getaddrinfo(host, NULL, &hints, &res))
		return false;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)ai->ai_addr;

			loopback &= (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;

			loopback &= IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		} else {
			loopback = false;
		}
	}
	freeaddrinfo(res);
	return loopback;
}

int auth__load(const struct settings *s, char **token, char *err, size_t errlen)
{
	const char *path = s->auth_token_file;
	char buf[TOKEN_MAX + 2];
	struct stat st;
	size_t n;
	FILE *f;

	*token = NULL;
	if (!*path) {
		if (auth__is_loopback(s->listen))
			return 0;
		snprintf(err, errlen,
			 "refusing to listen on %s without an auth token: it is not a loopback "
			 "address; set auth.token_file in the config file (or listen on "
			 "127.0.0.1)",
			 s->listen);
		return -EPERM;
	}
	f = fopen(path, "re");
	if (!f) {
		int ret = -errno;

		snprintf(err, errlen, "auth.token_file %s: %s", path, strerror(errno));
		return ret;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* One line; the final newline (and CR) is not part of the token. */
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n > TOKEN_MAX) {
		snprintf(err, errlen, "auth.token_file %s: longer than %d bytes", path, TOKEN_MAX);
		return -EINVAL;
	}
	if (n < 16 || strpbrk(buf, " \t\r\n")) {
		snprintf(err, errlen,
			 "auth.token_file %s: expected one line of at least 16 characters without "
			 "spaces",
			 path);
		return -EINVAL;
	}
	if (!stat(path, &st) && (st.st_mode & S_IROTH))
		fprintf(stderr, "pprofd: warning: auth.token_file %s is world-readable\n", path);
	*token = strdup(buf);
	if (!*token) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

bool auth__check(const char *authorization, const char *token)
{
	size_t tlen, alen, i;
	unsigned char diff;

	if (!authorization || !token || strncasecmp(authorization, "Bearer ", 7))
		return false;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	alen = strlen(authorization);
	tlen = strlen(token);
	/* Every byte of the token is compared, whatever the length given. */
	diff = alen != tlen;
	for (i = 0; i < tlen; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < alen ? authorization[i] : 0);
	return diff == 0;
}
