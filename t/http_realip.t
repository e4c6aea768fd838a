#!/usr/bin/perl
# The realip module and HTTP listen ... proxy_protocol: X-Real-IP (with a
# port, IPv6, garbage), X-Forwarded-For with real_ip_recursive off and on
# (trusted and untrusted hops, several headers), a custom header set in a
# location, the PROXY protocol v1 header as the source, untrusted
# connections left alone, $realip_remote_addr/_port keeping the
# connection's address, keep-alive requests judged one by one, and
# allow/deny plus the error log seeing the real address. Also the PROXY
# header itself on HTTP: v1, v2, UNKNOWN, and a missing or broken one
# (closed, logged, the server still serving).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($p1, $p2, $p3, $p4, $p5, $p6, $p7) = map { $t->port } 1 .. 7;
my $HAVE_SSL = eval { require IO::Socket::SSL; 1 }
  && system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
    . " -nodes -keyout $P/k.pem -out $P/c.pem -subj /CN=x -days 2"
    . " >$P/openssl.out 2>&1") == 0;
my $ssl_server = $HAVE_SSL ? <<"EOF" : '';
    server {
        listen 127.0.0.1:$p7 ssl proxy_protocol;
        ssl_certificate $P/c.pem;
        ssl_certificate_key $P/k.pem;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { return 200 "\$remote_addr \$https\n"; }
    }
EOF

$t->write_file('html/files/a.txt', "file\n");
$t->write_file('html/loc/a.txt',   "loc\n");
my $V = '"$remote_addr|$remote_port|$realip_remote_addr|$realip_remote_port|$proxy_protocol_addr|$proxy_protocol_port\n"';

$t->write_conf(<<"EOF");
events { }
http {
    server_tokens off;
    root $P/html;
    server {
        listen 127.0.0.1:$p1;
        set_real_ip_from 127.0.0.1;
        location / { return 200 $V; }
        location /files/ { allow 192.0.2.0/24; deny all; }
    }
    server {
        listen 127.0.0.1:$p2;
        set_real_ip_from 127.0.0.0/8;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        location / { return 200 $V; }
    }
    server {
        listen 127.0.0.1:$p3;
        set_real_ip_from 127.0.0.0/8;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { return 200 $V; }
    }
    server {
        listen 127.0.0.1:$p4 proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { return 200 $V; }
        location /files/ { allow 192.0.2.0/24; deny all; }
    }
    server {
        listen 127.0.0.1:$p5;
        location / { return 200 $V; }
        location /loc/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header x-client;
            allow 198.51.100.7;
            deny all;
        }
    }
    server {
        listen 127.0.0.1:$p6 proxy_protocol;
        location / { return 200 $V; }
    }
$ssl_server}
EOF
$t->start(ports => [$p1, $p2, $p3, $p5]) or BAIL_OUT('no start');

# One request from a source address; returns (response, client port).
sub req {
    my ($port, $headers, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        LocalAddr => $o{from} // '127.0.0.1', Timeout => 5)
      or die "connect: $!";
    my $c = WmHttpClient->from_socket($s);
    $c->send(($o{pp} // '') . "GET " . ($o{uri} // '/')
          . " HTTP/1.1\r\nHost: x\r\n$headers"
          . "Connection: close\r\n\r\n");
    return ($c->read_response, $s->sockport);
}

# The variables line for a request: ($remote_addr|... with the client
# port written as CP).
sub vars {
    my ($port, $headers, %o) = @_;
    my ($r, $cp) = req($port, $headers, %o);
    my $b = ($r->{status} // 'none') . ' ' . ($r->{body} // '');
    $b =~ s/\|$cp\|/|CP|/g;
    return $b;
}

# ---- X-Real-IP ----------------------------------------------------------
is(vars($p1, "X-Real-IP: 192.0.2.5\r\n"), "200 192.0.2.5||127.0.0.1|CP||\n",
    'X-Real-IP from a trusted address replaces $remote_addr');
is(vars($p1, "x-real-ip: 192.0.2.5:8080\r\n"),
    "200 192.0.2.5|8080|127.0.0.1|CP||\n",
    'X-Real-IP with a port (header name in any case)');
is(vars($p1, "X-Real-IP: 2001:db8::9\r\n"), "200 2001:db8::9||127.0.0.1|CP||\n",
    'X-Real-IP with an IPv6 address');
is(vars($p1, "X-Real-IP: [2001:db8::9]:443\r\n"),
    "200 2001:db8::9|443|127.0.0.1|CP||\n", 'X-Real-IP [IPv6]:port');
is(vars($p1, "X-Real-IP: not-an-address\r\n"),
    "200 127.0.0.1|CP|127.0.0.1|CP||\n", 'garbage in X-Real-IP: unchanged');
is(vars($p1, ""), "200 127.0.0.1|CP|127.0.0.1|CP||\n",
    'no X-Real-IP: unchanged');
is(vars($p1, "X-Real-IP: 192.0.2.5\r\n", from => '127.0.0.2'),
    "200 127.0.0.2|CP|127.0.0.2|CP||\n",
    'X-Real-IP from an untrusted address is ignored');
is(vars($p1, "X-Forwarded-For: 192.0.2.5\r\n"),
    "200 127.0.0.1|CP|127.0.0.1|CP||\n",
    'real_ip_header X-Real-IP ignores X-Forwarded-For');

# ---- X-Forwarded-For, not recursive ----------------------------------------
is(vars($p2, "X-Forwarded-For: 203.0.113.1, 10.0.0.5\r\n"),
    "200 10.0.0.5||127.0.0.1|CP||\n",
    'XFF, recursive off: the rightmost address, trusted or not');
is(vars($p2, "X-Forwarded-For: 203.0.113.1\r\nX-Forwarded-For: 198.51.100.2,10.0.0.6\r\n"),
    "200 10.0.0.6||127.0.0.1|CP||\n", '  several headers: the last one');
is(vars($p2, "X-Forwarded-For: 203.0.113.1, \r\n"),
    "200 203.0.113.1||127.0.0.1|CP||\n", '  trailing comma and space');

# ---- X-Forwarded-For, recursive ------------------------------------------
is(vars($p3, "X-Forwarded-For: 203.0.113.1, 10.0.0.5\r\n"),
    "200 203.0.113.1||127.0.0.1|CP||\n",
    'XFF, recursive on: trusted hops skipped from the right');
is(vars($p3, "X-Forwarded-For: 198.51.100.1, 203.0.113.1, 10.0.0.5, 127.0.0.9\r\n"),
    "200 203.0.113.1||127.0.0.1|CP||\n",
    '  stops at the first untrusted address');
is(vars($p3, "X-Forwarded-For: 10.0.0.9, 10.0.0.5\r\n"),
    "200 10.0.0.9||127.0.0.1|CP||\n", '  all trusted: the leftmost');
is(vars($p3, "X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 10.0.0.5\r\n"),
    "200 198.51.100.1||127.0.0.1|CP||\n", '  across several headers');
is(vars($p3, "X-Forwarded-For: 198.51.100.1, bogus, 10.0.0.5\r\n"),
    "200 10.0.0.5||127.0.0.1|CP||\n",
    '  a hop that is not an address ends the walk');
is(vars($p3, "X-Forwarded-For: 203.0.113.1, 10.0.0.5\r\n", from => '127.0.0.2'),
    "200 203.0.113.1||127.0.0.2|CP||\n",
    '  127.0.0.2 is trusted here (127.0.0.0/8)');

# ---- a custom header, configured in a location ----------------------------
{
    my ($r) = req($p5, "X-Client: 198.51.100.7\r\n", uri => '/loc/a.txt');
    is("$r->{status} $r->{body}", "200 loc\n",
        'location-level realip: allow sees the real address');
    my $off = $t->log_size;
    ($r) = req($p5, "X-Client: 198.51.100.8\r\n", uri => '/loc/a.txt');
    is($r->{status}, 403, '  another real address is denied');
    ok($t->wait_log(qr{\[error\] \d+#0: access forbidden by rule, client: 198\.51\.100\.8, server: , request: "GET /loc/a\.txt HTTP/1\.1"},
        from => $off), '  error.log names the real client');
    is(vars($p5, "X-Client: 198.51.100.7\r\n"),
        "200 127.0.0.1|CP|127.0.0.1|CP||\n",
        '  other locations of the server do not use it');
}

# ---- allow/deny and logs on the real address ------------------------------
{
    my ($r) = req($p1, "X-Real-IP: 192.0.2.44\r\n", uri => '/files/a.txt');
    is("$r->{status} $r->{body}", "200 file\n", 'allow 192.0.2.0/24 applies to X-Real-IP');
    my $off = $t->log_size;
    ($r) = req($p1, "", uri => '/files/a.txt');
    is($r->{status}, 403, 'the connection address itself is denied');
    ok($t->wait_log(qr{access forbidden by rule, client: 127\.0\.0\.1,}, from => $off),
        '  logged with 127.0.0.1');
    $off = $t->log_size;
    ($r) = req($p1, "X-Real-IP: 2001:db8::1\r\n", uri => '/files/a.txt');
    is($r->{status}, 403, 'a real IPv6 address is denied');
    ok($t->wait_log(qr{access forbidden by rule, client: 2001:db8::1,}, from => $off),
        '  logged with the real address');
}

# ---- keep-alive: each request on its own ----------------------------------
{
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p1",
        Timeout => 5) or die;
    my $c = WmHttpClient->from_socket($s);
    my $cp = $s->sockport;
    $c->send("GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 192.0.2.5\r\n\r\n"
          . "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
          . "GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 192.0.2.6\r\n\r\n");
    my @b = map { $c->read_response->{body} // '' } 1 .. 3;
    s/\|$cp\|/|CP|/g for @b;
    is($b[0], "192.0.2.5||127.0.0.1|CP||\n", 'keep-alive: first request replaced');
    is($b[1], "127.0.0.1|CP|127.0.0.1|CP||\n",
        '  second without the header: the connection address again');
    is($b[2], "192.0.2.6||127.0.0.1|CP||\n", '  third with its own');
}

# ---- real_ip_header proxy_protocol ----------------------------------------
my $pp = "PROXY TCP4 192.0.2.77 127.0.0.1 5555 $p4\r\n";
is(vars($p4, "X-Real-IP: 10.1.1.1\r\n", pp => $pp),
    "200 192.0.2.77|5555|127.0.0.1|CP|192.0.2.77|5555\n",
    'real_ip_header proxy_protocol: address and port of the header');
is(vars($p4, "", pp => "PROXY TCP6 2001:db8::77 ::1 6666 $p4\r\n"),
    "200 2001:db8::77|6666|127.0.0.1|CP|2001:db8::77|6666\n", '  TCP6');
is(vars($p4, "", pp => "PROXY UNKNOWN\r\n"),
    "200 127.0.0.1|CP|127.0.0.1|CP||\n", '  UNKNOWN: unchanged');
is(vars($p4, "", pp => $pp, from => '127.0.0.2'),
    "200 127.0.0.2|CP|127.0.0.2|CP|192.0.2.77|5555\n",
    '  untrusted balancer: unchanged, $proxy_protocol_addr still set');
{
    my ($r) = req($p4, "", pp => $pp, uri => '/files/a.txt');
    is("$r->{status} $r->{body}", "200 file\n", '  allow sees the address of the header');
    my $off = $t->log_size;
    ($r) = req($p4, "", uri => '/files/a.txt',
        pp => "PROXY TCP4 203.0.113.50 127.0.0.1 1234 $p4\r\n");
    is($r->{status}, 403, '  deny too');
    ok($t->wait_log(qr{access forbidden by rule, client: 203\.0\.113\.50,}, from => $off),
        '  logged with that address');
}

# ---- listen ... proxy_protocol without realip -----------------------------
is(vars($p6, "", pp => "PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\n"),
    "200 127.0.0.1|CP|127.0.0.1|CP|192.0.2.1|1000\n",
    'proxy_protocol v1: $proxy_protocol_addr/_port, $remote_addr unchanged');
my $v2 = "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x21, 0x11, 12)
    . pack('C4C4nn', 203, 0, 113, 9, 127, 0, 0, 1, 5555, 80);
is(vars($p6, "", pp => $v2), "200 127.0.0.1|CP|127.0.0.1|CP|203.0.113.9|5555\n",
    'proxy_protocol v2');
{
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p6", Timeout => 5)
      or die;
    my $c = WmHttpClient->from_socket($s);
    $c->send("PROXY TCP4 192.0.2.1 ");
    select(undef, undef, undef, 0.2);
    $c->send("192.0.2.2 1000 2000\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
          . "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    my $r1 = $c->read_response;
    my $r2 = $c->read_response;
    like($r1->{body} // '', qr/\|192\.0\.2\.1\|1000\n$/, 'a header in two pieces');
    like($r2->{body} // '', qr/\|192\.0\.2\.1\|1000\n$/,
        '  and the second request on the connection keeps it');
}
{
    my $off = $t->log_size;
    my ($r) = req($p6, "");
    ok(!$r->{status} && ($r->{partial} // '') eq '',
        'no PROXY header: closed with no response');
    ok($t->wait_log(qr{\[error\] \d+#0: broken header: no PROXY protocol header while reading PROXY protocol, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$p6\n},
        from => $off), '  error.log: broken header');
    ($r) = req($p6, "", pp => "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n");
    ok(!$r->{status}, 'bad port in the header: closed');
    ok($t->wait_log(qr{broken header: PROXY protocol v1 header has an invalid port},
        from => $off), '  with the reason');
}
is(vars($p6, "", pp => "PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\n"),
    "200 127.0.0.1|CP|127.0.0.1|CP|192.0.2.1|1000\n", 'the server still serves');

# ---- proxy_protocol before TLS ------------------------------------------
SKIP: {
    skip 'no IO::Socket::SSL or openssl', 2 unless $HAVE_SSL;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p7", Timeout => 5)
      or die;
    syswrite($s, "PROXY TCP4 192.0.2.99 127.0.0.1 7777 $p7\r\n");
    IO::Socket::SSL->start_SSL($s, SSL_verify_mode => 0, Timeout => 10)
      or die "TLS: $IO::Socket::SSL::SSL_ERROR";
    print $s "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $resp = '';
    while (defined(my $l = <$s>)) { $resp .= $l }
    like($resp, qr{^HTTP/1\.1 200 }, 'PROXY header, then TLS: served');
    like($resp, qr{\r\n\r\n192\.0\.2\.99 on\n$}, '  with the address of the header');
}

# ---- -t ---------------------------------------------------------------------
for my $b (['set_real_ip_from 1.2.3.4/99;', '"set_real_ip_from" directive has invalid value "1.2.3.4/99"'],
    ['real_ip_header X-Real-IP; real_ip_header X-Forwarded-For;', '"real_ip_header" directive is duplicate'],
    ['real_ip_recursive maybe;', '"real_ip_recursive" directive'])
{
    my $conf = $t->write_conf(<<"EOF", name => 'bad.conf');
events { }
http { server { listen 127.0.0.1:$p1; $b->[0] } }
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 1, "-t rejects \"$b->[0]\"");
    like($r->{stderr}, qr/bad\.conf:5: \Q$b->[1]\E/, '  with its message');
}
{
    my $conf = $t->write_conf(<<"EOF", name => 'warn.conf');
events { }
http { server { listen 127.0.0.1:$p1; set_real_ip_from 10.1.2.3/16; set_real_ip_from unix:; } }
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 0, '-t accepts set_real_ip_from with host bits and unix:');
    like($r->{stderr}, qr/\[warn\] .*low address bits of 10\.1\.2\.3\/16 are meaningless in \Q$conf\E:5/,
        '  and warns about the host bits');
}
$t->done;
