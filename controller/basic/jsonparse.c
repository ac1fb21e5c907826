/* jsonparse.c — the strict JSON document parse every parser of outside input shares: one
 * document, a bounded depth, nothing but whitespace after it. */
#include <errno.h>
#include <string.h>

#include "jsonget.h"

int json_parse_strict(const char *text, size_t len, int depth, int flags, const char *trailing_ws,
		      json_object **ret, enum json_tokener_error *ret_jerr, size_t *ret_end)
{
	json_tokener *tok = json_tokener_new_ex(depth);
	enum json_tokener_error je;
	json_object *o;
	size_t end;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, flags);
	o = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (ret_jerr)
		*ret_jerr = je;
	if (ret_end)
		*ret_end = end;
	if (!o || je != json_tokener_success) {
		json_object_put(o);
		return -EINVAL;
	}
	if (trailing_ws)
		for (size_t i = end; i < len; i++)
			if (!text[i] || !strchr(trailing_ws, text[i])) {
				json_object_put(o);
				return -EBADMSG;
			}
	*ret = o;
	return 0;
}
