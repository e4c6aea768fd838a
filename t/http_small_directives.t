#!/usr/bin/perl
# Small things an nginx configuration relies on without saying so: the
# three types nginx knows when no types block is given (html, gif, jpg),
# $realpath_root (the root with its symbolic links resolved; for a
# missing root it is empty and a [crit] line says why), $hostname, $pid,
# $msec and $time_iso8601 in a response, the directives wmproxy accepts
# for compatibility only (keepalive_disable, the *_hash_* sizes, and from
# the stock nginx.conf of Debian load_module, multi_accept, accept_mutex,
# use), server_tokens build and server_name_in_redirect. Each request also
# goes to Debian's nginx with the same configuration when it is installed,
# and both answers must agree.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Sys::Hostname;
use Test::More;
use Time::HiRes qw(time);
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my ($wport, $nport) = ($t->port, $t->port);

$t->write_file("releases/r2/$_", "$_ body\n")
  for qw(a.html a.gif a.jpg a.jpeg a.txt a.HTML noext sub/index.html);
symlink("$P/releases/r2", "$P/current") or die "symlink: $!";

sub http_body {
    my $port = shift;
    return <<"EOF";
    keepalive_disable msie6 safari;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 1024;
    variables_hash_bucket_size 128;
    variables_hash_max_size 2048;
    types_hash_bucket_size 64;
    types_hash_max_size 2048;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/current;
        location /empty-types/ {
            alias $P/current/;
            types { }
            default_type application/x-none;
        }
        location = /roots {
            return 200 "dr=\$document_root rr=\$realpath_root\\n";
        }
        location = /roots-alias {
            alias $P/current/;
            return 200 "dr=\$document_root rr=\$realpath_root\\n";
        }
        location = /missing {
            root $P/nowhere;
            return 200 "rr=\$realpath_root\\n";
        }
        location = /host { return 200 "hostname=\$hostname\\n"; }
        location /build/ { server_tokens build; }
        location = /proc {
            return 200 "pid=\$pid msec=\$msec iso=\$time_iso8601\\n";
        }
    }
    server {
        listen 127.0.0.1:$port;
        server_name canon.test alias.test;
        server_name_in_redirect on;
        root $P/current;
        location /off/ { server_name_in_redirect off; alias $P/current/; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my $host = hostname();
my @cases = (
    # name, path, status, Content-Type, body, Host, Location
    [ 'no types block: .html is text/html', '/a.html', 200, 'text/html',
        "a.html body\n" ],
    [ 'no types block: .gif is image/gif', '/a.gif', 200, 'image/gif' ],
    [ 'no types block: .jpg is image/jpeg', '/a.jpg', 200, 'image/jpeg' ],
    [ 'no types block: .jpeg is the default_type', '/a.jpeg', 200,
        'text/plain' ],
    [ 'no types block: .txt is the default_type', '/a.txt', 200,
        'text/plain' ],
    [ 'no types block: the extension is case-blind', '/a.HTML', 200,
        'text/html' ],
    [ 'no extension: the default_type', '/noext', 200, 'text/plain' ],
    [ 'an empty types block knows nothing', '/empty-types/a.html', 200,
        'application/x-none' ],
    [ '$realpath_root resolves the link', '/roots', 200, 'text/plain',
        "dr=$P/current rr=$P/releases/r2\n" ],
    [ '$realpath_root of an alias', '/roots-alias', 200, 'text/plain',
        "dr=$P/current/ rr=$P/releases/r2\n" ],
    [ '$realpath_root of a missing root: empty (and a [crit] line)',
        '/missing', 200, 'text/plain', "rr=\n" ],
    [ '$hostname is the machine name', '/host', 200, 'text/plain',
        "hostname=$host\n" ],
    [ 'server_tokens build: the version, as on', '/build/nope', 404,
        'text/html' ],
    [ 'server_name_in_redirect on: the first server_name', '/sub', 301,
        'text/html', undef, 'alias.test', 'http://canon.test:PORT/sub/' ],
    [ 'server_name_in_redirect off: the Host', '/off/sub', 301,
        'text/html', undef, 'alias.test', 'http://alias.test:PORT/off/sub/' ],
);

my $off = $t->log_size;
for my $c (@cases) {
    my ($name, $path, $status, $type, $body, $vhost, $location) = @$c;
    my @h = $vhost ? ("Host: $vhost") : ();
    my $w = WmNginx::fetch($wport, "GET $path HTTP/1.1", @h);
    if ($w->{error}) {
        fail("$name: $w->{error}");
        next;
    }
    is($w->{status}, $status, "$name: $status");
    is($w->{h}{'content-type'}, $type, "$name: Content-Type $type");
    is($w->{body}, $body, "$name: body") if defined $body;
    if ($location) {
        (my $want = $location) =~ s/PORT/$wport/;
        is($w->{h}{location}, $want, "$name: Location");
    }
    next unless $nginx_up;
    my $n = WmNginx::fetch($nport, "GET $path HTTP/1.1", @h);
    is_deeply(WmNginx::comparable($w, $wport, 'content-type', 'location'),
        WmNginx::comparable($n, $nport, 'content-type', 'location'),
        "$name: as nginx");
}
ok($t->wait_log(qr/^$D \[crit\] \d+#\d+: (?:\*\d+ )?realpath\(\) "\Q$P\E\/nowhere" failed \(2: No such file or directory\), client: 127\.0\.0\.1, server: localhost, request: "GET \/missing HTTP\/1\.1"/m,
        from => $off, timeout => 3),
    '$realpath_root of a missing root: [crit] realpath() "..." failed (2: '
      . '...)') or diag($t->log_since($off));
like($ng->log_text, qr/\[crit\] .*realpath\(\) "\Q$P\E\/nowhere" failed \(2: No such file or directory\)/,
    'nginx logs the same') if $nginx_up;

# The values that differ from one server to the other.
{
    my $t0 = time;
    my $w  = WmNginx::fetch($wport, 'GET /proc HTTP/1.1');
    my ($pid, $msec, $iso) = ($w->{body} // '')
      =~ /^pid=(\d+) msec=(\d+\.\d{3}) iso=(\S+)\n\z/;
    ok(defined $pid, '$pid $msec $time_iso8601: the forms of nginx')
      or diag($w->{body});
    is_deeply([ grep { $_ == ($pid // 0) } $t->workers ], [ $pid // 0 ],
        '$pid is the worker\'s');
    ok(defined $msec && abs($msec - $t0) < 30, '$msec is the time now')
      or diag("msec $msec, now $t0");
    like($iso // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/,
        '$time_iso8601: 2026-11-22T18:00:00+00:00');
    if ($nginx_up) {
        my $n = WmNginx::fetch($nport, 'GET /proc HTTP/1.1');
        like($n->{body}, qr/^pid=\d+ msec=\d+\.\d{3} iso=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\n\z/,
            'nginx writes them in the same forms');
    }
}

like(WmNginx::fetch($wport, 'GET /build/x HTTP/1.1')->{h}{server} // '',
    qr{^wmproxy/\d}, 'server_tokens build: Server: wmproxy/VERSION');

# ---- directives of nginx's stock configuration ----------------------------

{
    my $conf = $t->write_file('stock.conf', <<"EOF");
load_module modules/ngx_stream_module.so;
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
events {
    worker_connections 768;
    multi_accept on;
    accept_mutex off;
    use epoll;
}
http { server { listen 127.0.0.1:$wport; } }
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 0, 'load_module, multi_accept, accept_mutex, use epoll: '
          . 'accepted') or diag($r->{stderr});
}
SKIP: {
    skip 'no /etc/nginx/nginx.conf', 1 unless -r '/etc/nginx/nginx.conf';
    my $r = $t->run('-p', "$P/", '-c', '/etc/nginx/nginx.conf', '-t');
    is($r->{code}, 0, 'wmproxy -t accepts the installed /etc/nginx/nginx.conf')
      or diag($r->{stderr});
}
for my $b ([ 'multi_accept yes;', 'multi_accept' ],
    [ 'accept_mutex 1;', 'accept_mutex' ], [ 'use kqueue;', 'use' ])
{
    $t->conf_rejected(<<"EOF", 6, qr/"$b->[1]" directive has invalid value/,
worker_processes 1;
events {
    $b->[0]
}
http { server { listen 127.0.0.1:$wport; } }
EOF
        $b->[0]);
}
$t->conf_rejected(<<"EOF", 5, qr/"server_tokens" directive has invalid value "maybe"/,
events { }
http { server_tokens maybe; server { listen 127.0.0.1:$wport; } }
EOF
    'server_tokens maybe');

is(WmNginx::fetch($wport, 'GET /a.html HTTP/1.1')->{body}, "a.html body\n",
    'still serving');
$ng->stop if $ng;
$t->done;
