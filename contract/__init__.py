"""What the webui-host processes agree on, with no I/O: configuration model, message codec, request and
reply items, Redis and etcd layouts and records, Web API Groups rules, origins, identity assertions,
account names, file and socket names, and the metric definitions.  Tested without sockets."""
