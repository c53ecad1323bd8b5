"""What the webui-host processes must agree on: configuration, message format, Redis and etcd layout."""
