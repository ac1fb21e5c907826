/* requests.c — one control-socket request: authorisation of the peer (group, root) and the
 * dispatch of its verb. */
#include "daemon-internal.h"

/* Root, or a member of the socket group: primary group from SO_PEERCRED, supplementary
 * ones from SO_PEERGROUPS, both as the kernel recorded them at connect() (no /proc text,
 * which a long Groups: line or a reused pid would make lie). */
bool daemon_peer_authorized(struct daemon *d, int fd, const struct ucred *cr)
{
	_cleanup_free_ gid_t *gids = NULL;
	socklen_t len = 64 * sizeof(gid_t);

	if (cr->uid == 0)
		return true;
	if (!d->have_group)
		return false;
	if (cr->gid == d->group)
		return true;
	for (int tries = 0; tries < 2; tries++) {
		free(gids);
		gids = malloc(len ? len : sizeof(gid_t));
		if (!gids)
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) == 0) {
			for (size_t i = 0; i < len / sizeof(gid_t); i++)
				if (gids[i] == d->group)
					return true;
			return false;
		}
		if (errno != ERANGE)
			return false; /* len now holds the size needed: one more try */
	}
	return false;
}

int daemon_handle_line(struct client *c, const char *line, size_t len)
{
	struct daemon *d = c->d;
	struct proto_request req = {0};
	struct proto_error err = {0};
	json_object *reply;
	int r;

	r = proto_parse_request(line, len, &req, &err);
	if (r >= 0 && !c->authorized)
		r = daemon_set_err(&err, PROTO_E_PERMISSION, NULL, "%s needs root or group %s",
				   proto_op_name(req.op), d->conf.group);
	if (c->held && (r < 0 || !daemon_batch_wants(d, &req))) {
		/* Replies go out in request order: this one after the batch that holds the
		 * client's earlier requests (their replies wake the client again). */
		proto_request_done(&req);
		return -EAGAIN;
	}
	if (r >= 0 && daemon_batch_wants(d, &req) && daemon_batch_add(c, &req) >= 0)
		return 0;
	reply = json_object_new_object();
	if (r >= 0 && reply) {
		if (req.has_id)
			json_object_object_add(reply, "id", json_object_new_int64(req.id));
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
		switch (req.op) {
		case PROTO_SUBMIT:
			r = daemon_do_submit(d, &req, reply, &err);
			break;
		case PROTO_CANCEL:
			r = daemon_do_cancel(d, &req, reply, &err);
			break;
		case PROTO_SUBMIT_APP:
			r = daemon_do_submit_app(d, &req, reply, &err);
			break;
		case PROTO_APPS:
			json_object_object_add(reply, "apps", daemon_apps_json(d, false));
			break;
		case PROTO_STATUS:
			json_object_object_add(reply, "policy",
					       json_object_new_string(d->conf.policy));
			json_object_object_add(reply, "draining",
					       json_object_new_boolean(d->draining));
			json_object_object_add(reply, "measure", daemon_measure_json(d));
			json_object_object_add(reply, "kernel", daemon_kernel_json(d));
			json_object_object_add(reply, "metrics", daemon_metrics_json(d));
			json_object_object_add(reply, "foreign", daemon_foreign_json(d));
			if (d->shaper)
				json_object_object_add(reply, "uplink", daemon_uplink_json(d));
			json_object_object_add(reply, "devices", daemon_devices_json(d));
			json_object_object_add(reply, "queues", daemon_queues_json(d));
			json_object_object_add(reply, "tasks", daemon_tasks_json(d, true));
			json_object_object_add(reply, "apps", daemon_apps_json(d, true));
			break;
		case PROTO_QUEUES:
			json_object_object_add(reply, "queues", daemon_queues_json(d));
			break;
		case PROTO_FLEET: {
			json_object *fs = NULL;
			char e[200];
			if (!d->fleet)
				r = daemon_set_err(&err, PROTO_E_STATE, NULL,
						   "fleet mode is off (fleet = etcd)");
			else if (fleet_status(d->fleet, &fs, e, sizeof(e)) < 0)
				r = daemon_set_err(&err, PROTO_E_INTERNAL, NULL, "fleet: %s", e);
			else {
				static const char *const keys[] = {"fleet", "devices", "queues",
								   "tasks"};
				for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
					json_object *v = NULL;
					if (json_object_object_get_ex(fs, keys[i], &v))
						json_object_object_add(reply, keys[i],
								       json_object_get(v));
				}
			}
			json_object_put(fs);
			break;
		}
		case PROTO_DEVICES:
			json_object_object_add(reply, "devices", daemon_devices_json(d));
			break;
		case PROTO_TASKS:
			json_object_object_add(reply, "tasks", daemon_tasks_json(d, false));
			break;
		case PROTO_EVENTS:
			c->events = true;
			json_object_object_add(reply, "stream", json_object_new_boolean(1));
			break;
		case PROTO_RELOAD: {
			char e[256], restart[256];
			r = daemon_reload(d, restart, sizeof(restart), e, sizeof(e));
			if (r < 0)
				daemon_set_err(&err, PROTO_E_BAD_VALUE,
					       r == -EBADMSG ? "config" : "catalog", "%s", e);
			else {
				json_object *a = json_object_new_array();
				for (char *k = restart, *sp; *k; k = sp ? sp + 1 : k + strlen(k)) {
					sp = strchr(k, ' ');
					json_object_array_add(
					    a, json_object_new_string_len(k, sp ? (int)(sp - k)
										: (int)strlen(k)));
				}
				json_object_object_add(reply, "models",
						       json_object_new_int((int)d->n_models));
				json_object_object_add(reply, "restart_required", a);
			}
			break;
		}
		default:
			r = daemon_set_err(&err, PROTO_E_UNKNOWN_OP, "op", "op: unknown");
		}
	}
	daemon_reply(c, &req, reply, r, &err);
	proto_request_done(&req);
	return 0;
}

void daemon_reply(struct client *c, struct proto_request *req, json_object *reply, int r,
		  struct proto_error *err)
{
	_cleanup_free_ char *out = NULL;

	if (r >= 0 && reply) {
		size_t n = 0;
		const char *s =
		    json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN, &n);
		if (s && n + 1 > MAX_REPLY)
			r = daemon_set_err(err, PROTO_E_TOO_LARGE, NULL,
					   "reply of %zu bytes exceeds the %u MiB reply limit", n,
					   MAX_REPLY >> 20);
		else if (s) {
			/* the reply as json-c wrote it, then its newline: no copy of a large one */
			daemon_client_send_n(c, s, n);
			daemon_client_send_n(c, "\n", 1);
			json_object_put(reply);
			return;
		}
	}
	if (r < 0 || !reply) {
		if (!reply)
			daemon_set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
		out = proto_format_error(req, err);
	}
	json_object_put(reply);
	if (out)
		daemon_client_send(c, out);
}
