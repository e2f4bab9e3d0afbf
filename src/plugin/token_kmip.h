/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hooks of libcryptsetup-token-kmip.so (token_kmip.c), as libcryptsetup
 * calls them (libcryptsetup.h has only their function types,
 * crypt_token_*_func), and the test seam of the unit test.
 */
#ifndef KMIPCRYPT_TOKEN_KMIP_H
#define KMIPCRYPT_TOKEN_KMIP_H

#include <stddef.h>

struct crypt_device;

const char *cryptsetup_token_version(void);
int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer,
			  size_t *buffer_len, void *usrptr);
int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin,
			      size_t pin_size, char **buffer, size_t *buffer_len, void *usrptr);
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len);
int cryptsetup_token_validate(struct crypt_device *cd, const char *json);
void cryptsetup_token_dump(struct crypt_device *cd, const char *json);

/* The time limit of one open (ms); the unit test lowers it.  Local to the plugin (.sym). */
extern unsigned token_kmip_deadline_ms;

#endif
