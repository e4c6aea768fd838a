#!/usr/bin/perl
# Malformed and hostile requests over raw sockets: each gets the exact
# status that wm_http_parse.h documents (nginx's, but 431 for heads that are
# too large), the connection is closed after it where the framing is not
# known, nothing outside the root is ever served, and a fresh request is
# served after each. Also: a head sent one byte at a time, a client that
# goes silent in the middle of a head (client_header_timeout), and the
# levels of what gets logged.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my ($port, $p_keep, $p_under, $p_small, $p_slow) = map { $t->port } 1 .. 5;

my $srcdir = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";
my ($version) = do {
    open my $fh, '<', "$srcdir/configure.ac" or die "configure.ac: $!";
    local $/;
    <$fh> =~ /AC_INIT\(\[wmproxy\],\s*\[([^\]]+)\]/;
};
die "no version in configure.ac" unless $version;

my $SECRET = "TOP SECRET: outside the root\n";
$t->write_file('secret.txt',        $SECRET);
$t->write_file('html/secret.txt',   "the public secret.txt\n");
$t->write_file('html/a.txt',        "file a\n");
$t->write_file('html/index.html',   "index\n");
$t->write_file('html/small/a.txt',  "small a\n");

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types { text/plain txt; text/html html; }
    default_type text/plain;
    root $P/html;

    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        client_header_timeout 1s;
        location /small/ {
            client_max_body_size 10;
        }
        location = /echo {
            return 200 "x_y=[\$http_x_y] foo=[\$http_foo] host=[\$host]\\n";
        }
    }
    server {
        listen 127.0.0.1:$p_keep;
        ignore_invalid_headers off;
        return 200 "x_y=[\$http_x_y] foo=[\$http_foo]\\n";
    }
    server {
        listen 127.0.0.1:$p_under;
        underscores_in_headers on;
        return 200 "x_y=[\$http_x_y]\\n";
    }
    server {
        listen 127.0.0.1:$p_small;
        large_client_header_buffers 2 1k;
    }
    server {
        listen 127.0.0.1:$p_slow;
        send_timeout 1s;
        client_body_timeout 1s;
    }
}
EOF

$t->write_file('html/huge.bin', 'h' x (24 * 1024 * 1024));

$t->start(workers => 1,
    ports => [ $port, $p_keep, $p_under, $p_small, $p_slow ])
  or do { $t->done; exit };

# ---- helpers ----------------------------------------------------------------

my %LINE = (
    400 => '400 Bad Request',
    405 => '405 Not Allowed',
    413 => '413 Request Entity Too Large',
    414 => '414 Request-URI Too Large',
    417 => '417 Expectation Failed',
    431 => '431 Request Header Fields Too Large',
    501 => '501 Not Implemented',
    505 => '505 HTTP Version Not Supported',
);

sub page {
    my $line = shift;
    return "<html>\r\n<head><title>$line</title></head>\r\n<body>\r\n"
      . "<center><h1>$line</h1></center>\r\n<hr><center>wmproxy/$version"
      . "</center>\r\n</body>\r\n</html>\r\n";
}

sub printable {
    my $s = shift;
    $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return length $s > 100 ? substr($s, 0, 100) . "...(" . length($s)
      . " bytes)" : $s;
}

# A plain request on a fresh connection must still be served.
sub still_serving {
    my ($name) = @_;
    my $c = WmHttpClient->new($port);
    $c->send("GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close"
          . "\r\n\r\n");
    my $r = $c->read_response;
    ok(!$r->{error} && $r->{line} eq 'HTTP/1.1 200 OK'
          && $r->{body} eq "file a\n", "$name: then a fresh request is served")
      or diag($r->{error} // "got $r->{line}");
}

# Sends raw, expects one response with `status` (the built-in page for
# errors, `body` when given) and, with close, the connection closed after
# it with nothing more; then checks that a fresh request works.
sub hostile {
    my ($name, $raw, $status, %o) = @_;
    my $c = WmHttpClient->new($o{port} // $port) or do {
        fail("$name: connect: $!");
        return;
    };
    $c->send($raw);
    my $r = $c->read_response(head => $o{head});
    if ($r->{error}) {
        fail("$name: $r->{error}");
    } else {
        my $want = "HTTP/1.1 " . ($LINE{$status} // ($status == 200
                    ? '200 OK' : $status == 404 ? '404 Not Found' : $status));
        is($r->{line}, $want, "$name: $want");
        if (exists $o{body}) {
            is($r->{body}, $o{body}, "$name: body");
        } elsif ($LINE{$status}) {
            is($r->{body}, page($LINE{$status}), "$name: the built-in page");
        }
        unlike($r->{body}, qr/TOP SECRET/, "$name: no secret")
          if $raw =~ /secret/i;
        if ($o{close}) {
            is($r->{h}{connection}, 'close', "$name: Connection: close");
            ok($c->wait_eof(5) && $c->{buf} eq '',
                "$name: the connection is closed after the response")
              or diag("then: " . printable($c->{buf}));
        }
    }
    still_serving($name);
    return $r;
}

my $H = "Host: localhost\r\n";
my $GET = "GET /a.txt HTTP/1.1\r\n";

# ---- the request line -------------------------------------------------------

my $off = $t->log_size;
my @bad = (
    [ 'a bad method character',      "G(T /a.txt HTTP/1.1\r\n$H\r\n",   400 ],
    [ 'a control byte in the method', "GE\x01T /a.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a space before the method',   " GET /a.txt HTTP/1.1\r\n$H\r\n",  400 ],
    [ 'a lowercase version',         "GET /a.txt http/1.1\r\n$H\r\n",   400 ],
    [ 'a version without minor',     "GET /a.txt HTTP/1\r\n$H\r\n",     400 ],
    [ 'a two-digit minor version',   "GET /a.txt HTTP/1.10\r\n$H\r\n",  400 ],
    [ 'garbage after the version',   "GET /a.txt HTTP/1.1x\r\n$H\r\n",  400 ],
    [ 'two spaces after the method', "GET  /a.txt HTTP/1.1\r\n$H\r\n",  400 ],
    [ 'a space after the version',   "GET /a.txt HTTP/1.1 \r\n$H\r\n",  400 ],
    [ 'a tab as separator',          "GET\t/a.txt HTTP/1.1\r\n$H\r\n",  400 ],
    [ 'an HTTP/0.9 request line',    "GET /a.txt\r\n\r\n",              400 ],
    [ 'an empty version',            "GET /a.txt \r\n$H\r\n",           400 ],
    [ 'a bare CR ending the request line',
        "GET /a.txt HTTP/1.1\r$H\r\n", 400 ],
    [ 'a NUL in the URI',            "GET /a\0.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ '%00 in the URI',              "GET /a%00.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a bad %-escape',              "GET /a%zz.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a cut %-escape',              "GET /a.txt%4 HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a lone % at the end',         "GET /a.txt% HTTP/1.1\r\n$H\r\n",  400 ],
    [ 'a # in the target',           "GET /a.txt#x HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a backslash in the target',   "GET /x\\a.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a byte over 0x7e in the target',
        "GET /a\x80.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'DEL in the target',           "GET /a\x7f.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ '/../../etc/passwd',           "GET /../../etc/passwd HTTP/1.1\r\n$H\r\n", 400 ],
    [ '/../secret.txt',              "GET /../secret.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ '/%2e%2e/secret.txt',          "GET /%2e%2e/secret.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ '/%2E%2E%2Fsecret.txt',        "GET /%2E%2E%2Fsecret.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ '/small/..%2f..%2fsecret.txt', "GET /small/..%2f..%2fsecret.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ '/./../secret.txt',            "GET /./../secret.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'a relative target',           "GET a.txt HTTP/1.1\r\n$H\r\n",    400 ],
    [ 'a * target with GET',         "GET * HTTP/1.1\r\n$H\r\n",        400 ],
    [ 'OPTIONS *',                   "OPTIONS * HTTP/1.1\r\n$H\r\n",    400 ],
    [ 'an absolute URI with userinfo',
        "GET http://u\@localhost/a.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'an absolute URI with a bad scheme',
        "GET 1http://localhost/a.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'an absolute URI with a bad host',
        "GET http://a..b/a.txt HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'CONNECT without a port',      "CONNECT localhost HTTP/1.1\r\n$H\r\n", 400 ],
    [ 'HTTP/2.0',                    "GET /a.txt HTTP/2.0\r\n$H\r\n",   505 ],
    [ 'HTTP/0.9 as a version',       "GET /a.txt HTTP/0.9\r\n$H\r\n",   505 ],
    [ 'HTTP/3.1',                    "GET /a.txt HTTP/3.1\r\n$H\r\n",   505 ],
    [ 'a request line over 8k',
        "GET /" . ('a' x 8200) . " HTTP/1.1\r\n$H\r\n", 414 ],
    [ 'a request line of 8193 bytes',
        "GET /" . ('a' x (8193 - 14)) . " HTTP/1.1\r\n$H\r\n", 414 ],
    [ 'a request line over 1k (large_client_header_buffers 2 1k)',
        "GET /" . ('a' x 1100) . " HTTP/1.1\r\n$H\r\n", 414,
        port => $p_small ],

    # ---- header fields ------------------------------------------------------
    [ 'a bare CR in a header value', "$GET${H}X: a\rb\r\n\r\n",         400 ],
    [ 'a bare CR before the empty line', "$GET$H\r\r\n",                400 ],
    [ 'obs-fold',                    "$GET${H}X: a\r\n b\r\n\r\n",      400 ],
    [ 'a space before the colon',    "${GET}Host : localhost\r\n\r\n",  400 ],
    [ 'a tab before the colon',      "$GET${H}X-A\t: 1\r\n\r\n",        400 ],
    [ 'whitespace before the first header', "$GET $H\r\n",              400 ],
    [ 'a header without colon',      "$GET${H}NoColon\r\n\r\n",         400 ],
    [ 'a header without name',       "$GET$H: value\r\n\r\n",           400 ],
    [ 'a NUL in a header value',     "$GET${H}X: a\0b\r\n\r\n",         400 ],
    [ 'a NUL in a header name',      "$GET${H}X\0Y: 1\r\n\r\n",         400 ],
    [ 'a duplicate Host',            "$GET${H}Host: other\r\n\r\n",     400 ],
    [ 'a duplicate identical Host',  "$GET$H$H\r\n",                    400 ],
    [ 'no Host with HTTP/1.1',       "$GET\r\n",                        400 ],
    [ 'an empty Host with HTTP/1.1', "${GET}Host:\r\n\r\n",             400 ],
    [ 'a Host with a slash',         "${GET}Host: a/b\r\n\r\n",         400 ],
    [ 'a Host with ..',              "${GET}Host: a..b\r\n\r\n",        400 ],
    [ 'a Host with userinfo',        "${GET}Host: u\@a\r\n\r\n",        400 ],
    [ 'a Host port over 65535',      "${GET}Host: a:99999\r\n\r\n",     400 ],
    [ 'a Host with a bad port',      "${GET}Host: a:8x\r\n\r\n",        400 ],
    [ 'a Host with a cut IPv6 literal', "${GET}Host: [::1\r\n\r\n",     400 ],
    [ 'Content-Length twice, different',
        "$GET${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400 ],
    [ 'Content-Length not a number', "$GET${H}Content-Length: 1x\r\n\r\n", 400 ],
    [ 'Content-Length negative',     "$GET${H}Content-Length: -1\r\n\r\n", 400 ],
    [ 'Content-Length with a sign',  "$GET${H}Content-Length: +1\r\n\r\n", 400 ],
    [ 'Content-Length as a list',    "$GET${H}Content-Length: 1, 1\r\n\r\n", 400 ],
    [ 'Content-Length empty',        "$GET${H}Content-Length:\r\n\r\n", 400 ],
    [ 'Content-Length overflowing',
        "$GET${H}Content-Length: 99999999999999999999999\r\n\r\n", 400 ],
    [ 'Content-Length with Transfer-Encoding',
        "$GET${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
          . "0\r\n\r\n", 400 ],
    [ 'Transfer-Encoding with HTTP/1.0',
        "GET /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400 ],
    [ 'chunked not the last coding',
        "$GET${H}Transfer-Encoding: chunked, gzip\r\n\r\n", 400 ],
    [ 'two Transfer-Encoding lines',
        "$GET${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
          . "\r\n\r\n0\r\n\r\n", 400 ],
    [ 'chunked with a parameter',
        "$GET${H}Transfer-Encoding: chunked;x=1\r\n\r\n", 400 ],
    [ 'an empty Transfer-Encoding',  "$GET${H}Transfer-Encoding:\r\n\r\n", 400 ],
    # A malformed chunked body that comes with the head: 400 before the
    # response (nginx reads the body it drops first).
    [ 'a chunk size that is not hex',
        "$GET${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400 ],
    [ 'a negative chunk size',
        "$GET${H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        400 ],
    [ 'an overflowing chunk size',
        "$GET${H}Transfer-Encoding: chunked\r\n\r\n" . ('f' x 20)
          . "\r\nhello\r\n0\r\n\r\n", 400 ],
    [ 'chunk data not followed by CRLF',
        "$GET${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        400 ],
    [ 'a bad chunk size for a return',
        "GET /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n"
          . "5x\r\nhello\r\n0\r\n\r\n", 400 ],
    [ 'Transfer-Encoding: gzip',     "$GET${H}Transfer-Encoding: gzip\r\n\r\n", 501 ],
    [ 'Transfer-Encoding: gzip, chunked',
        "$GET${H}Transfer-Encoding: gzip, chunked\r\n\r\n", 501 ],
    [ 'Expect: something',           "$GET${H}Expect: something\r\n\r\n", 417,
        close => 0 ],
    [ 'a header line over 8k',
        "$GET${H}X-Long: " . ('v' x 8200) . "\r\n\r\n", 431 ],
    [ 'a header line of 8193 bytes',
        "$GET${H}X-Long: " . ('v' x (8193 - 8)) . "\r\n\r\n", 431 ],
    [ 'a header line over 1k (large_client_header_buffers 2 1k)',
        "$GET${H}X-Long: " . ('v' x 1100) . "\r\n\r\n", 431,
        port => $p_small ],
    [ 'a head over 32k (4 x 8k) in short lines',
        $GET . $H . join('', map { "X-H$_: " . ('v' x 7000) . "\r\n" } 1 .. 5)
          . "\r\n", 431 ],
    [ 'a head over 2k (large_client_header_buffers 2 1k)',
        $GET . $H . join('', map { "X-H$_: " . ('v' x 900) . "\r\n" } 1 .. 3)
          . "\r\n", 431, port => $p_small ],
    [ 'more than 100 header fields',
        $GET . $H . join('', map { "X-H$_: $_\r\n" } 1 .. 100) . "\r\n", 431 ],
    [ 'a body over client_max_body_size (1m)',
        "POST /a.txt HTTP/1.1\r\n${H}Content-Length: 2000000\r\n\r\n", 413 ],
    [ 'a body over a location client_max_body_size (10)',
        "POST /small/a.txt HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\n"
          . "01234567890", 413 ],
);
hostile($_->[0], $_->[1], $_->[2], close => 1, @$_[ 3 .. $#$_ ]) for @bad;

# 413 while the client is still sending its body: the answer must reach
# the client (lingering close), not be lost to a reset.
{
    my $c = WmHttpClient->new($port);
    my $body = 'b' x 1_500_000;
    my $data = "POST /a.txt HTTP/1.1\r\n${H}Content-Length: "
      . length($body) . "\r\n\r\n$body";
    $c->{s}->blocking(0);
    my ($off, $end) = (0, time + 20);
    while ($off < length $data && time < $end) {
        my $w = '';
        vec($w, fileno($c->{s}), 1) = 1;
        select(undef, $w, undef, 0.5) or next;
        my $n = syswrite($c->{s}, $data, 65536, $off);
        last if !defined $n && !$!{EAGAIN};
        $off += $n // 0;
    }
    $c->{s}->blocking(1);
    is($off, length $data, '413 while the body is sent: the server reads '
          . 'and drops the rest');
    my $r = $c->read_response;
    is($r->{line} // $r->{error}, 'HTTP/1.1 413 Request Entity Too Large',
        '413 while the body is sent: the answer arrives');
    ok($c->wait_eof(10), '413 while the body is sent: then the '
          . 'connection is closed');
    still_serving('413 while the body is sent');
}

# A pipelined request after a bad one is never answered.
hostile('a bad request with another one pipelined behind it',
    "GET /a.txt HTTP/2.0\r\n$H\r\n$GET$H\r\n", 505, close => 1);
hostile('a bad header with another request pipelined behind it',
    "$GET${H}X : 1\r\n\r\n$GET$H\r\n", 400, close => 1);

# ---- logging ----------------------------------------------------------------

my $log = $t->log_since($off);
for ([ 'client sent invalid method',            'G(T' ],
    [ 'client sent unsupported HTTP version',   'HTTP/2.0' ],
    [ 'client sent too long URI',               'a request line over 8k' ],
    [ 'client sent too long header line',       'a header line over 8k' ],
    [ 'client sent duplicate host header',      'a duplicate Host' ],
    [ 'client sent invalid request URI',        '%00' ],
    [ 'client sent invalid chunked body',       'zz as a chunk size' ])
{
    like($log, qr/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[info\] \d+#\d+: (?:\*\d+ )?\Q$_->[0]\E/m,
        "[info] $_->[0] ($_->[1])");
}
like($log, qr/\[error\] .*client intended to send too large body: 2000000 bytes/,
    '[error] client intended to send too large body: 2000000 bytes');
my @loud = grep { /\[(?:warn|error|crit|alert|emerg)\]/
      && !/client intended to send too large body/ } split /\n/, $log;
is(scalar @loud, 0, 'nothing else above [info] for bad requests')
  or diag(join "\n", @loud);

# ---- what is accepted -------------------------------------------------------

my $A = "file a\n";
hostile('an unknown method: 405', "FOO /a.txt HTTP/1.1\r\n$H\r\n", 405);
hostile('a lowercase unknown method: 405',
    "get /a.txt HTTP/1.1\r\n$H\r\n", 405);
hostile('CONNECT host:port: 405',
    "CONNECT localhost:443 HTTP/1.1\r\n$H\r\n", 405);
hostile('HTTP/1.2 is served as HTTP/1.1', "GET /a.txt HTTP/1.2\r\n$H\r\n",
    200, body => $A);
hostile('empty lines before the request line',
    "\r\n\r\n$GET$H\r\n", 200, body => $A);
hostile('bare LF line ends', "GET /a.txt HTTP/1.1\nHost: localhost\n\n",
    200, body => $A);
hostile('obs-text in a header value', "$GET${H}X-T: caf\xe9\r\n\r\n", 200,
    body => $A);
hostile('Content-Length twice, the same',
    "$GET${H}Content-Length: 2\r\nContent-Length: 2\r\n\r\nxx", 200,
    body => $A);
hostile('a Host with a trailing dot', "GET /echo HTTP/1.1\r\nHost: "
      . "LocalHost.\r\n\r\n", 200,
    body => "x_y=[] foo=[] host=[localhost]\n");
hostile('a Host with a port', "GET /echo HTTP/1.1\r\nHost: localhost:99"
      . "\r\n\r\n", 200, body => "x_y=[] foo=[] host=[localhost]\n");
hostile('an IPv6 Host', "GET /echo HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 200,
    body => "x_y=[] foo=[] host=[[::1]]\n");
hostile('an absolute-form URI', "GET http://LOCALHOST:1/a.txt HTTP/1.1\r\n"
      . "Host: other\r\n\r\n", 200, body => $A);
hostile('an absolute-form URI without a path',
    "GET http://localhost HTTP/1.1\r\n$H\r\n", 200, body => "index\n");
hostile('HTTP/1.0 without Host', "GET /a.txt HTTP/1.0\r\n\r\n", 200,
    body => $A);
hostile('HTTP/1.0 with an empty Host', "GET /a.txt HTTP/1.0\r\nHost:\r\n\r\n",
    200, body => $A);
hostile('Expect: 100-continue without a body',
    "$GET${H}Expect: 100-continue\r\n\r\n", 200, body => $A);
hostile('exactly 100 header fields',
    $GET . $H . join('', map { "X-H$_: $_\r\n" } 1 .. 99) . "\r\n", 200,
    body => $A);
hostile('a request line of 8192 bytes',
    "GET /" . ('a' x (8192 - 14)) . " HTTP/1.1\r\n$H\r\n", 404);
hostile('a header line of 8192 bytes',
    "$GET${H}X-Long: " . ('v' x (8192 - 8)) . "\r\n\r\n", 200, body => $A);
hostile('a body of exactly a location client_max_body_size',
    "$GET${H}Content-Length: 10\r\n\r\n0123456789", 200, body => $A);
hostile('a header name with an invalid character is ignored',
    "GET /echo HTTP/1.1\r\n${H}Foo\@x: 1\r\nFoo: 2\r\n\r\n", 200,
    body => "x_y=[] foo=[2] host=[localhost]\n");
hostile('a header name with an underscore is ignored',
    "GET /echo HTTP/1.1\r\n${H}X_Y: 1\r\n\r\n", 200,
    body => "x_y=[] foo=[] host=[localhost]\n");
hostile('underscores_in_headers on: X_Y is a header',
    "GET / HTTP/1.1\r\n${H}X_Y: 1\r\n\r\n", 200, body => "x_y=[1]\n",
    port => $p_under);
hostile('ignore_invalid_headers off: X_Y is kept (nginx)',
    "GET / HTTP/1.1\r\n${H}X_Y: 1\r\n\r\n", 200,
    body => "x_y=[1] foo=[]\n", port => $p_keep);
hostile('ignore_invalid_headers off: a name with @ is kept (nginx)',
    "GET / HTTP/1.1\r\n${H}X\@Y: 1\r\nFoo: 2\r\n\r\n", 200,
    body => "x_y=[] foo=[2]\n", port => $p_keep);

# ---- slow and silent clients ------------------------------------------------

{
    my $c = WmHttpClient->new($port);
    setsockopt($c->{s}, IPPROTO_TCP, TCP_NODELAY, 1);
    my $req = "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: yes\r\n"
      . "Connection: close\r\n\r\n";
    for my $b (split //, $req) {
        $c->send($b);
        sleep 0.005;
    }
    my $r = $c->read_response;
    ok(!$r->{error} && $r->{line} eq 'HTTP/1.1 200 OK' && $r->{body} eq $A,
        'a head sent one byte at a time is served')
      or diag($r->{error} // $r->{line});
}

{
    my $off = $t->log_size;
    my $c   = WmHttpClient->new($port);
    $c->send("GET /a.txt HTTP/1.1\r\nHost: loc");
    ok($c->wait_eof(6), 'half a head, then silence: the connection is '
          . 'closed (client_header_timeout 1s)');
    is($c->{buf}, '', 'half a head, then silence: no answer is sent');
    ok($t->wait_log(qr/\[info\] .*client timed out/, from => $off,
            timeout => 5),
        'half a head, then silence: [info] client timed out ...')
      or diag($t->log_since($off));
    my @l = grep { /\[(?:notice|warn|error|crit|alert|emerg)\]/ }
      split /\n/, $t->log_since($off);
    is(scalar @l, 0, 'half a head, then silence: nothing logged above info')
      or diag(join "\n", @l);
    still_serving('half a head, then silence');

    $c = WmHttpClient->new($port);
    ok($c->wait_eof(6), 'a connection that sends nothing is closed too');
    is($c->{buf}, '', 'a connection that sends nothing gets no answer');
}

{
    # A client that stops reading a big response: send_timeout 1s.
    my $off = $t->log_size;
    my $c   = WmHttpClient->new($p_slow);
    $c->send("GET /huge.bin HTTP/1.1\r\n$H\r\n");
    sleep 4;
    1 while $c->fill(time + 10) && length $c->{buf} < 30_000_000;
    ok($c->{eof}, 'a client that stops reading: the connection is closed '
          . '(send_timeout 1s)');
    ok(length $c->{buf} < 24 * 1024 * 1024, 'a client that stops '
          . 'reading: the response is cut short')
      or diag('got ' . length($c->{buf}) . ' bytes');
    ok($t->wait_log(qr/\[info\] .*client timed out/, from => $off,
            timeout => 5),
        'a client that stops reading: [info] client timed out ...')
      or diag($t->log_since($off));
    my @l = grep { /\[(?:warn|error|crit|alert|emerg)\]/ }
      split /\n/, $t->log_since($off);
    is(scalar @l, 0, 'a client that stops reading: nothing logged above '
          . 'info') or diag(join "\n", @l);

    # A body that stops coming: client_body_timeout 1s.
    $c = WmHttpClient->new($p_slow);
    $c->send("$GET${H}Content-Length: 10\r\n\r\n01234");
    my $r = $c->read_response;
    is($r->{line} // $r->{error}, 'HTTP/1.1 200 OK',
        'a body that stops coming: the response is sent');
    ok($c->wait_eof(6) && $c->{buf} eq '', 'a body that stops coming: the '
          . 'connection is closed (client_body_timeout 1s)');
    still_serving('slow clients');
}

{
    # Many bad requests at once on parallel connections.
    my @c = map { WmHttpClient->new($port) } 1 .. 20;
    $_->send("GET /a%zz HTTP/1.1\r\n$H\r\n") for @c;
    my $n = grep { my $r = $_->read_response;
        !$r->{error} && $r->{line} eq 'HTTP/1.1 400 Bad Request' } @c;
    is($n, 20, '20 parallel bad requests get 20 answers of 400');
    still_serving('20 parallel bad requests');
}

$t->done;
