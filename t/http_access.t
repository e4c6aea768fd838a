#!/usr/bin/perl
# allow / deny in http, server and location: rules in order with the
# first match winning, IPv4 (clients bound to 127.0.0.1, .2, .3 and .4),
# IPv6 on [::1], IPv4-mapped clients on [::ffff:127.0.0.1], CIDR blocks,
# all, unix:, a level with rules replacing the rules above it, the 403
# page and its error.log line, keep-alive going on after a denial, and
# the -t checks (bad values, the "low address bits" warning).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Socket::UNIX;
use Test::More;
use WmTest;
use WmHttpClient;

my $t  = WmTest->new(timeout => 120);
my $P  = $t->prefix;
my ($p, $p2, $pm) = ($t->port, $t->port, $t->port);
my $sock = "$P/http.sock";

for my $d (qw(first order v6 v6deny none cidr nested nested/inner unixonly
    nounix mapped mapped6))
{
    $t->write_file("html/$d/a.txt", "$d\n");
}
$t->write_file('html/a.txt', "root\n");

$t->write_conf(<<"EOF");
events { }
http {
    server_tokens off;
    deny 127.0.0.4;
    server {
        listen 127.0.0.1:$p;
        listen [::1]:$p;
        listen unix:$sock;
        server_name localhost;
        root $P/html;
        deny 127.0.0.3;

        location / { }
        location /first/ { deny 127.0.0.2; allow 127.0.0.0/8; deny all; }
        location /order/ { allow 127.0.0.0/8; deny 127.0.0.2; }
        location /v6/ { allow ::1; deny all; }
        location /v6deny/ { deny ::/0; allow all; }
        location /none/ { deny all; }
        location /cidr/ { allow 127.0.0.0/31; deny all; }
        location /nested/ {
            deny 127.0.0.2;
            location /nested/inner/ { allow all; }
        }
        location /unixonly/ { allow unix:; deny all; }
        location /nounix/ { allow 127.0.0.0/8; allow ::/0; deny all; }
    }
    server {
        listen 127.0.0.1:$p2;
        root $P/html;
    }
    server {
        listen [::ffff:127.0.0.1]:$pm ipv6only=off;
        root $P/html;
        location /mapped/ { allow 127.0.0.1; deny all; }
        location /mapped6/ { allow ::ffff:127.0.0.1; deny all; }
    }
}
EOF
$t->start(ports => [$p, $p2]) or BAIL_OUT('no start');

# A connection from a given source: an IPv4 address, '::1', or 'unix'.
sub client {
    my ($from, $port) = @_;
    my $s;
    if ($from eq 'unix') {
        $s = IO::Socket::UNIX->new(Peer => $sock);
    } elsif ($from eq '::1') {
        $s = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port,
            Timeout => 5);
    } else {
        $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            LocalAddr => $from, Timeout => 5);
    }
    $s or die "connect from $from: $!";
    return WmHttpClient->from_socket($s);
}

sub get {
    my ($from, $uri, $port) = @_;
    my $c = client($from, $port // $p);
    $c->send("GET $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    my $r = $c->read_response;
    return ($r->{status} // 'none') . ' ' . ($r->{body} // '');
}

my $page = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
  . "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>wmproxy</center>\r\n"
  . "</body>\r\n</html>\r\n";
my $F = "403 $page";

my @cases = (
    # from, uri, expected
    ['127.0.0.1', '/a.txt',          "200 root\n", 'no rule matches: allowed'],
    ['127.0.0.3', '/a.txt',          $F, 'server-level deny inherited by a location without rules'],
    ['127.0.0.4', '/a.txt',          "200 root\n", 'http-level rules replaced by the server\'s'],
    ['127.0.0.2', '/first/a.txt',    $F, 'first rule matches: denied'],
    ['127.0.0.1', '/first/a.txt',    "200 first\n", 'second rule matches: allowed'],
    ['127.0.0.2', '/order/a.txt',    "200 order\n", 'first match wins over a later deny'],
    ['127.0.0.3', '/order/a.txt',    "200 order\n", 'location rules replace the server\'s deny'],
    ['::1',       '/v6/a.txt',       "200 v6\n", 'IPv6 ::1 allowed'],
    ['127.0.0.1', '/v6/a.txt',       $F, 'IPv4 client falls to deny all'],
    ['::1',       '/v6deny/a.txt',   $F, '::/0 denies IPv6'],
    ['127.0.0.1', '/v6deny/a.txt',   "200 v6deny\n", '  and not IPv4'],
    ['127.0.0.1', '/none/a.txt',     $F, 'deny all'],
    ['::1',       '/none/a.txt',     $F, 'deny all, IPv6'],
    ['127.0.0.1', '/cidr/a.txt',     "200 cidr\n", '127.0.0.1 in 127.0.0.0/31'],
    ['127.0.0.2', '/cidr/a.txt',     $F, '127.0.0.2 outside 127.0.0.0/31'],
    ['127.0.0.2', '/nested/a.txt',   $F, 'nested: outer location denies'],
    ['127.0.0.2', '/nested/inner/a.txt', "200 nested/inner\n", 'nested: inner rules replace'],
    ['unix',      '/unixonly/a.txt', "200 unixonly\n", 'unix: allows a unix client'],
    ['127.0.0.1', '/unixonly/a.txt', $F, 'unix: does not allow an IP client'],
    ['unix',      '/nounix/a.txt',   $F, 'IP blocks do not match a unix client'],
    ['unix',      '/a.txt',          "200 root\n", 'unix client, no rule matches'],
);
for my $c (@cases) {
    is(get($c->[0], $c->[1]), $c->[2], "$c->[3] ($c->[0] $c->[1])");
}
is(get('127.0.0.4', '/a.txt', $p2), $F,
    'a server without rules inherits the http-level deny');
is(get('127.0.0.1', '/a.txt', $p2), "200 root\n", '  for that client only');

# IPv4-mapped clients (an IPv6 socket bound to ::ffff:127.0.0.1).
is(get('127.0.0.1', '/mapped/a.txt', $pm), "200 mapped\n",
    'mapped client matches an IPv4 rule');
is(get('127.0.0.2', '/mapped/a.txt', $pm), $F, '  and only its address');
is(get('127.0.0.1', '/mapped6/a.txt', $pm), "200 mapped6\n",
    'no IPv4 rule: the mapped client matches as IPv6');

# The error log line of a denial, with the request context.
my $off = $t->log_size;
is(get('127.0.0.2', '/first/a.txt'), $F, 'denied again');
ok($t->wait_log(qr{\[error\] \d+#0: access forbidden by rule, client: 127\.0\.0\.2, server: localhost, request: "GET /first/a\.txt HTTP/1\.1", host: "localhost"\n},
    from => $off), 'error.log: access forbidden by rule, with the context');
$off = $t->log_size;
is(get('::1', '/v6/a.txt'), "200 v6\n", 'allowed request');
is(get('::1', '/none/a.txt'), $F, 'denied IPv6 request');
ok($t->wait_log(qr{access forbidden by rule, client: ::1, server: localhost, request: "GET /none/a\.txt HTTP/1\.1"},
    from => $off), '  logged with client ::1');
unlike($t->log_since($off), qr{GET /v6/a\.txt.*forbidden|forbidden.*GET /v6/},
    '  the allowed one is not logged');

# Keep-alive goes on after a 403.
{
    my $c = client('127.0.0.2', $p);
    $c->send("GET /first/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
          . "GET /order/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    my $r1 = $c->read_response;
    my $r2 = $c->read_response;
    is("$r1->{status} " . ($r1->{h}{connection} // ''), '403 keep-alive',
        'keep-alive: 403 keeps the connection');
    is("$r2->{status} $r2->{body}", "200 order\n",
        '  the next request on it is served');
}
is(get('127.0.0.1', '/a.txt'), "200 root\n", 'server still serving');

# -t: bad values are errors; host bits are a warning.
my @bad = (
    ['allow 10.0.0.0/33;', '"allow" directive has invalid value "10.0.0.0/33"'],
    ['deny 300.1.1.1;',    '"deny" directive has invalid value "300.1.1.1"'],
    ['deny example.com;',  '"deny" directive has invalid value "example.com"'],
    ['allow;',             '"allow" directive'],
    ['allow 1.2.3.4 5.6.7.8;', '"allow" directive'],
);
for my $b (@bad) {
    my $conf = $t->write_conf(<<"EOF", name => 'bad.conf');
events { }
http { server { listen 127.0.0.1:$p; location / { $b->[0] } } }
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 1, "-t rejects \"$b->[0]\"");
    like($r->{stderr}, qr/bad\.conf:5: \Q$b->[1]\E/, '  with its message');
}
{
    my $conf = $t->write_conf(<<"EOF", name => 'bad.conf');
events { }
allow all;
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 1, '-t rejects allow at the main level');
    like($r->{stderr}, qr/bad\.conf:5: "allow" directive is not allowed here/,
        '  with its message');
}
{
    my $conf = $t->write_conf(<<"EOF", name => 'warn.conf');
events { }
http { server { listen 127.0.0.1:$p; allow 10.0.0.1/8; deny 2001:db8::1/32; } }
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 0, '-t accepts an address with host bits');
    like($r->{stderr}, qr/\[warn\] .*low address bits of 10\.0\.0\.1\/8 are meaningless in \Q$conf\E:5/,
        '  and warns about it (IPv4)');
    like($r->{stderr}, qr/low address bits of 2001:db8::1\/32 are meaningless/,
        '  and IPv6');
}
$t->done;
