#!/usr/bin/perl
# What the HTTP proxy rewrites on the way (wmproxy.conf(5), HTTP PROXY
# MODULE): proxy_redirect (default with and without a URI part, off,
# literal and regex pairs with captures and variables, first match wins,
# Refresh, inheritance), proxy_cookie_domain and proxy_cookie_path (exact
# and regex, leading dots, several cookies, off), proxy_method,
# proxy_set_body (also sent again by a retry), proxy_ignore_headers
# (accepted, checked, nothing changed), and the -t errors of each.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 300);
my ($port, $dead) = map { $t->port } 1 .. 2;
my $up = WmMockHttp->new;
my $pu = $up->port;
my $U = "http://127.0.0.1:$pu";

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    upstream retry { server 127.0.0.1:$dead; server 127.0.0.1:$pu backup; }
    server {
        listen 127.0.0.1:$port;
        location /uri/ {
            proxy_pass $U/backend/;
        }
        location /nouri/ {
            proxy_pass $U;
        }
        location /off/ {
            proxy_pass $U/backend/;
            proxy_redirect off;
        }
        location /pairs/ {
            proxy_pass $U/backend/;
            proxy_redirect http://one.example/ /first/;
            proxy_redirect http://one.example/a/ /never/;
            proxy_redirect ~^http://(\\w+)\\.two\\.example/(.*)\$ https://\$1.front/\$2?h=\$host;
            proxy_redirect default;
        }
        location /cookie/ {
            proxy_pass $U;
            proxy_cookie_domain backend.internal front.example;
            proxy_cookie_domain ~^(\\w+)\\.svc\\.local\$ \$1.example.org;
            proxy_cookie_path /backend/ /cookie/;
            proxy_cookie_path ~*^/APP(/.*)?\$ /app\$1;
            location /cookie/off/ {
                proxy_pass $U;
                proxy_cookie_domain off;
            }
        }
        location /method/ {
            proxy_pass $U;
            proxy_method PROPFIND;
            proxy_ignore_headers X-Accel-Buffering Expires Cache-Control Set-Cookie;
        }
        location /body/ {
            proxy_pass $U;
            proxy_method POST;
            proxy_set_body "user=\$arg_u&from=\$remote_addr";
        }
        location /retry/ {
            proxy_pass http://retry;
            proxy_set_body "again";
        }
    }
}
EOF

$t->start(workers => 1, ports => [$port]) or do { $t->done; exit };

# The client sends $req, the upstream answers $resp: (upstream request,
# client response).
sub through {
    my ($req, $resp) = @_;
    my $c = WmHttpClient->new($port) or die;
    $c->send($req);
    my $rq = $up->accept_request;
    $up->reply($rq, $resp) unless $rq->{error};
    return ($rq, $c->read_response);
}

# The Location the client gets when the upstream sends $loc.
sub loc_of {
    my ($path, $loc, $field) = @_;
    $field //= 'Location';
    my ($rq, $r) = through("GET $path HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 302 Found\r\n$field: $loc\r\nContent-Length: 0\r\n\r\n");
    return $r->{h}{ lc $field };
}

subtest 'proxy_redirect default' => sub {
    is(loc_of('/uri/x', "$U/backend/y/z?q=1"), '/uri/y/z?q=1',
        'with a URI part: the proxy_pass URL becomes the location');
    is(loc_of('/uri/x', "$U/other/y"), "$U/other/y",
        'a URL outside it passes as is');
    is(loc_of('/uri/x', "HTTP://127.0.0.1:$pu/backend/y"),
        "HTTP://127.0.0.1:$pu/backend/y", 'the prefix is case-sensitive');
    is(loc_of('/nouri/x', "$U/a/b"), '/a/b',
        'without a URI part: the URL with "/" becomes "/"');
    is(loc_of('/off/x', "$U/backend/y"), "$U/backend/y", 'off: unchanged');
    is(loc_of('/uri/x', "5; url=$U/backend/r", 'Refresh'), '5; url=/uri/r',
        'Refresh: its url= part');
};

subtest 'proxy_redirect pairs' => sub {
    is(loc_of('/pairs/x', 'http://one.example/a/b'), '/first/a/b',
        'the first pair that matches wins');
    is(loc_of('/pairs/x', 'http://api.two.example/p/q'),
        'https://api.front/p/q?h=h', 'a regex with captures and variables');
    is(loc_of('/pairs/x', "$U/backend/d"), '/pairs/d',
        'default among the pairs');
    is(loc_of('/pairs/x', 'http://three.example/'), 'http://three.example/',
        'nothing matches: unchanged');
};

subtest 'proxy_cookie_domain, proxy_cookie_path' => sub {
    my ($rq, $r) = through("GET /cookie/c HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 200 OK\r\n"
          . "Set-Cookie: a=1; Domain=.Backend.Internal; Path=/backend/x; HttpOnly\r\n"
          . "Set-Cookie: b=2; path=/APP/login; domain=shop.svc.local\r\n"
          . "Set-Cookie: c=3; domain=other.example; path=/elsewhere\r\n"
          . "Set-Cookie: d=4\r\n"
          . "Content-Length: 0\r\n\r\n");
    my @sc = map { $_->[1] } grep { lc $_->[0] eq 'set-cookie' } @{ $r->{headers} };
    is_deeply(\@sc, [
        'a=1; Domain=.front.example; Path=/cookie/x; HttpOnly',
        'b=2; path=/app/login; domain=shop.example.org',
        'c=3; domain=other.example; path=/elsewhere',
        'd=4',
    ], 'domains and paths rewritten, leading dot kept, others untouched')
      or diag explain \@sc;
    ($rq, $r) = through("GET /cookie/off/c HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; domain=backend.internal; "
          . "path=/backend/\r\nContent-Length: 0\r\n\r\n");
    is($r->{h}{'set-cookie'}, 'a=1; domain=backend.internal; path=/cookie/',
        'a nested location: its own off for domains, the inherited paths');
};

subtest 'proxy_method, proxy_set_body, proxy_ignore_headers' => sub {
    my ($rq, $r) = through("GET /method/m HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 207 Multi-Status\r\nX-Accel-Buffering: no\r\n"
          . "Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-store\r\n"
          . "Set-Cookie: s=1\r\nContent-Length: 2\r\n\r\nok");
    is($rq->{line}, 'PROPFIND /method/m HTTP/1.0', 'proxy_method');
    is($r->{status}, 207, 'answered');
    is($r->{h}{expires}, 'Thu, 01 Jan 1970 00:00:01 GMT', 'ignored fields still pass: Expires');
    is($r->{h}{'cache-control'}, 'no-store', 'Cache-Control');
    is($r->{h}{'set-cookie'}, 's=1', 'Set-Cookie');
    ok(!exists $r->{h}{'x-accel-buffering'}, 'X-Accel-* stay hidden');

    ($rq, $r) = through("PUT /body/b?u=ann HTTP/1.1\r\nHost: h\r\n"
          . "Content-Length: 11\r\n\r\nclient body",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    is($rq->{raw}, "POST /body/b?u=ann HTTP/1.0\r\nHost: 127.0.0.1:$pu\r\n"
          . "Connection: close\r\nContent-Length: 23\r\n\r\n"
          . "user=ann&from=127.0.0.1",
        'proxy_set_body replaces the client\'s body, with its length')
      or diag explain $rq;
    is($r->{body}, 'ok', 'answered');

    my $c = WmHttpClient->new($port);
    $c->send("GET /retry/r HTTP/1.1\r\nHost: h\r\n\r\n");
    $rq = $up->accept_request;
    is($rq->{body}, 'again', 'the set body goes to the next server too');
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    is($c->read_response->{body}, 'ok', 'answered');
};

subtest '-t refuses bad values' => sub {
    for my $bad (
        [ 'proxy_redirect nonsense;', qr/"proxy_redirect" directive has invalid value "nonsense"/ ],
        [ 'proxy_redirect off; proxy_redirect default;', qr/"proxy_redirect" directive has "default" after "off"/ ],
        [ 'proxy_redirect ~(unclosed /x;', qr/"proxy_redirect"/ ],
        [ 'proxy_cookie_domain a;', qr/"proxy_cookie_domain" directive has invalid value "a"/ ],
        [ 'proxy_cookie_path off; proxy_cookie_path /a /b;', qr/"proxy_cookie_path" directive has values after "off"/ ],
        [ 'proxy_ignore_headers X-Nope;', qr/"proxy_ignore_headers" directive has invalid value "X-Nope"/ ],
        [ 'proxy_method "GET X";', qr/"proxy_method" directive has a space in the method/ ],
        [ 'proxy_set_body a; proxy_set_body b;', qr/"proxy_set_body" directive is duplicate/ ],
      )
    {
        $t->conf_rejected("events { }\nhttp { server { listen 127.0.0.1:$dead;\n"
              . "location / { proxy_pass http://127.0.0.1:$dead; $bad->[0] } } }\n",
            6, $bad->[1], $bad->[0]);
    }
    $t->conf_rejected("events { }\nhttp { server { listen 127.0.0.1:$dead;\n"
          . "location / { set \$b 127.0.0.1:$dead; proxy_pass http://\$b; "
          . "proxy_redirect default; } } }\n", 6,
        qr/"proxy_redirect default" with "proxy_pass" with variables/,
        'default with variables in proxy_pass');
};

$t->done;
