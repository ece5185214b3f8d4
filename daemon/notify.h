/* SPDX-License-Identifier: MIT */
/*
 * notify.h - the systemd notification protocol (Type=notify) without
 * libsystemd: READY=1 once serving, WATCHDOG=1 every half WATCHDOG_USEC,
 * STOPPING=1 on the way out.  Everything is a no-op outside systemd (no
 * NOTIFY_SOCKET).
 */
#ifndef PPROFD_NOTIFY_H
#define PPROFD_NOTIFY_H

struct event_base;
struct notify;

/* Sends one message ("READY=1").  Returns 0 (also without NOTIFY_SOCKET) or -errno. */
int notify__send(const char *msg);

/*
 * Sends READY=1 with a STATUS line and starts the watchdog pings on base
 * when systemd asks for them.  NULL only when out of memory.
 */
struct notify *notify__ready(struct event_base *base, const char *status);

/* Sends STOPPING=1 and stops the pings; safe on NULL. */
void notify__free(struct notify *n);

#endif /* PPROFD_NOTIFY_H */
