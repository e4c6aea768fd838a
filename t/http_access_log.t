#!/usr/bin/perl
# The HTTP access log and per-block error_log as an nginx user sees them:
# exact lines in the combined format and in a custom one, escape=json and
# the default escaping of a hostile User-Agent and of control bytes in the
# URI, $remote_user from Basic credentials, if=, buffer= with and without
# flush=, access_log off, per-location logs, two logs at one level, the
# default logs/access.log, keep-alive and pipelined requests logged once
# each, a 400 for a malformed head, -s reopen after the log was renamed,
# an error_log per server with the request context, and -t errors.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 qw(encode_base64);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 240);
my $P = $t->prefix;
my ($p1, $p2, $p3, $p4) = map { $t->port } 1 .. 4;

$t->write_file('html/a.txt',     "hello\n");
$t->write_file('html/q/x.txt',   "q file\n");
$t->write_file('html/off/a.txt', "off\n");
$t->write_file('html/json/a.txt', "json\n");
$t->write_file('html/nf/a.txt',  "nf\n");
$t->write_file('html/big.bin',   'b' x (16 * 1024 * 1024));

my $CUSTOM = '$remote_addr|$request|$status|$body_bytes_sent|$bytes_sent|'
  . '$request_length|$connection:$connection_requests|$pipe|$remote_user|'
  . '$sent_http_content_type|$sent_http_x_nope|$upstream_addr|$uri|'
  . '$http_user_agent';

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types { text/plain txt; }
    default_type text/plain;
    root $P/html;
    log_format custom '$CUSTOM';
    log_format j escape=json '{"ua":"\$http_user_agent",'
                             '"ref":"\$http_referer","s":\$status}';

    server {
        listen 127.0.0.1:$p1;
        server_name one;
        access_log logs/combined.log;
        access_log logs/custom.log custom;
        error_log logs/one_error.log;
        location /q/ { access_log logs/q.log custom; }
        location /off/ { access_log off; }
        location /json/ { access_log logs/json.log j; }
    }
    server {
        listen 127.0.0.1:$p2;
        server_name two;
        access_log logs/if.log custom if=\$arg_log;
    }
    server {
        listen 127.0.0.1:$p3;
        server_name three;
        access_log logs/buf.log custom buffer=64k flush=2s;
        location /nf/ { access_log logs/nf.log custom buffer=64k; }
    }
    server {
        listen 127.0.0.1:$p4;
        server_name four;
    }
}
EOF

$t->start(workers => 1, ports => [ $p1, $p2, $p3, $p4 ])
  or do { $t->done; exit };

my $TIME = qr{\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]};

sub lines {
    my ($rel) = @_;
    return [ split /\n/, $t->log_text("logs/$rel") ];
}

# Waits until the log has n lines (a worker writes after the response).
sub wait_lines {
    my ($rel, $n) = @_;
    $t->wait_until(sub { @{ lines($rel) } >= $n }, 10);
    return lines($rel);
}

# The combined line with its time replaced by [T].
sub untime {
    my ($l) = @_;
    return undef unless defined $l;
    $l =~ s/$TIME/[T]/;
    return $l;
}

my $UA     = "q\"u\\o\td\xc3\xa9";
my $UA_ESC = 'q\x22u\x5Co\x09d\xC3\xA9';
my $AUTH   = 'Basic ' . encode_base64('bob:se:cret', '');

sub req {
    my ($path, $extra) = @_;
    return "GET $path HTTP/1.1\r\nHost: one\r\n" . ($extra // '') . "\r\n";
}

# ---- keep-alive, pipelining, combined and custom ---------------------------

my @resp;
my $conn_reqs = 0;
{
    my $c = WmHttpClient->new($p1);
    my $r1 = req('/a.txt', "User-Agent: $UA\r\nAuthorization: $AUTH\r\n");
    $c->send($r1);
    my $r = $c->read_response;
    is($r->{status}, 200, 'keep-alive request 1: 200');
    push @resp, [ $r1, $r ];
    # Two more in one write: the third is pipelined behind the second.
    my $r2 = req('/a.txt');
    my $r3 = req('/nope', "Connection: close\r\n");
    $c->send($r2 . $r3);
    $r = $c->read_response;
    is($r->{status}, 200, 'keep-alive request 2: 200');
    push @resp, [ $r2, $r ];
    $r = $c->read_response;
    is($r->{status}, 404, 'pipelined request 3: 404');
    push @resp, [ $r3, $r ];
    $c->wait_eof;
}

my $custom = wait_lines('custom.log', 3);
is(scalar @$custom, 3, 'custom.log: one line per request of the connection');
my ($cn) = ($custom->[0] // '') =~ /\|(\d+):1\|/;
ok($cn, 'custom.log: $connection is a number');
$cn //= 0;

sub sent { length($_[0]{head}) + length($_[0]{body}) }

is($custom->[0],
    "127.0.0.1|GET /a.txt HTTP/1.1|200|6|" . sent($resp[0][1]) . "|"
      . length($resp[0][0]) . "|$cn:1|.|bob|text/plain|-|-|/a.txt|$UA_ESC",
    'custom.log: request 1, escaped User-Agent, $remote_user bob');
is($custom->[1],
    "127.0.0.1|GET /a.txt HTTP/1.1|200|6|" . sent($resp[1][1]) . "|"
      . length($resp[1][0]) . "|$cn:2|.|-|text/plain|-|-|/a.txt|-",
    'custom.log: request 2 on the same connection');
is($custom->[2],
    "127.0.0.1|GET /nope HTTP/1.1|404|" . length($resp[2][1]{body}) . "|"
      . sent($resp[2][1]) . "|" . length($resp[2][0])
      . "|$cn:3|p|-|text/html|-|-|/nope|-",
    'custom.log: request 3 pipelined ($pipe p), 404');

my $combined = wait_lines('combined.log', 3);
is(scalar @$combined, 3, 'combined.log: the same three requests');
is(untime($combined->[0]),
    qq{127.0.0.1 - bob [T] "GET /a.txt HTTP/1.1" 200 6 "-" "$UA_ESC"},
    'combined.log: request 1 exactly');
like($combined->[0] // '', qr/^127\.0\.0\.1 - bob $TIME /,
    'combined.log: $time_local as nginx');
is(untime($combined->[2]),
    qq{127.0.0.1 - - [T] "GET /nope HTTP/1.1" 404 }
      . length($resp[2][1]{body}) . q{ "-" "-"},
    'combined.log: the 404');

# ---- error_log per server -----------------------------------------------------

ok($t->wait_log(qr/open\(\) "\Q$P\E\/html\/nope" failed/,
        file => 'logs/one_error.log'),
    'one_error.log has the 404 line');
like($t->log_text('logs/one_error.log'),
    qr{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#0: open\(\) "\Q$P\E/html/nope" failed \(2: No such file or directory\), client: 127\.0\.0\.1, server: one, request: "GET /nope HTTP/1\.1", host: "one"$}m,
    'the 404 line carries client, server, request and host');
unlike($t->log_text, qr{html/nope}, 'the main error log does not have it');

{
    my $c = WmHttpClient->new($p4);
    $c->send("GET /missing4 HTTP/1.1\r\nHost: four\r\nConnection: close\r\n\r\n");
    is($c->read_response->{status}, 404, 'server four: 404');
}
ok($t->wait_log(qr{open\(\) "\Q$P\E/html/missing4" failed .*server: four, request: "GET /missing4 HTTP/1\.1", host: "four"}),
    'a server without error_log logs to the main error log');
unlike($t->log_text('logs/one_error.log'), qr/missing4/,
    'and not to another server\'s');

# ---- default access log, per-location, off, json, control bytes -------------

my $access = wait_lines('access.log', 1);
is(scalar @$access, 1, 'the default logs/access.log has server four\'s line');
is(untime($access->[0]),
    q{127.0.0.1 - - [T] "GET /missing4 HTTP/1.1" 404 }
      . ($access->[0] =~ / 404 (\d+) / ? $1 : 'x') . q{ "-" "-"},
    'the default log uses combined');

{
    # A client that goes away in the middle of a big response.
    my $c = WmHttpClient->new($p4, 4096);
    $c->send("GET /big.bin HTTP/1.1\r\nHost: four\r\n\r\n");
    $c->fill(time + 5);
    like($c->{buf}, qr{^HTTP/1\.1 200 }, 'big.bin: the response starts');
    close $c->{s};
}
$access = wait_lines('access.log', 2);
like(untime($access->[1]),
    qr{^127\.0\.0\.1 - - \[T\] "GET /big\.bin HTTP/1\.1" 200 \d+ "-" "-"$},
    'a request cut short by the client is logged');
is(scalar @{ lines('access.log') }, 2, 'and logged once');

sub get1 {
    my ($port, $path, $extra) = @_;
    my $c = WmHttpClient->new($port);
    $c->send("GET $path HTTP/1.1\r\nHost: one\r\nConnection: close\r\n"
          . ($extra // '') . "\r\n");
    my $r = $c->read_response;
    $c->wait_eof;
    return $r;
}

is(get1($p1, '/q/x.txt')->{status}, 200, '/q/x.txt: 200');
my $q = wait_lines('q.log', 1);
like($q->[0] // '', qr{^127\.0\.0\.1\|GET /q/x\.txt HTTP/1\.1\|200\|7\|},
    'q.log has the location\'s request');

is(get1($p1, '/off/a.txt')->{status}, 200, '/off/a.txt: 200');
is(get1($p1, '/json/a.txt', "User-Agent: $UA\r\n")->{status}, 200,
    '/json/a.txt: 200');
my $json = wait_lines('json.log', 1);
is($json->[0], qq{{"ua":"q\\"u\\\\o\\td\xc3\xa9","ref":"","s":200}},
    'json.log: escape=json, a missing header is ""');

is(get1($p1, '/ctl%01%1F%7F')->{status}, 404, 'control bytes in the URI: 404');
$custom = wait_lines('custom.log', 4);
is($custom->[3] =~ s/\|\d+\|\d+\|\d+\|\d+:\d+\|/|N|/r,
    '127.0.0.1|GET /ctl%01%1F%7F HTTP/1.1|404|N|.|-|text/html|-|-|'
      . '/ctl\x01\x1F\x7F|-',
    'custom.log: control bytes of $uri as \xHH');
is(scalar @{ lines('custom.log') }, 4,
    'custom.log: nothing from /q/, /off/ or /json/');
is(scalar @{ lines('combined.log') }, 4, 'combined.log: the same');

# ---- a malformed head: 400 ------------------------------------------------------

{
    my $c = WmHttpClient->new($p1);
    $c->send("GET /bad HTTP/1.1\r\nHost: one\r\nBad Name: v\r\n\r\n");
    my $r = $c->read_response;
    is($r->{status}, 400, 'malformed head: 400');
    $combined = wait_lines('combined.log', 5);
    is(untime($combined->[4]),
        q{127.0.0.1 - - [T] "GET /bad HTTP/1.1" 400 }
          . length($r->{body}) . q{ "-" "-"},
        'combined.log: the 400 with its request line');
    $c->wait_eof;
}
is(get1($p1, '/a.txt')->{status}, 200, 'still serving after the 400');

# ---- if= ------------------------------------------------------------------

for my $a ('?log=1', '?log=0', '', '?log=', '?log=yes') {
    is(get1($p2, "/a.txt$a")->{status}, 200, "if=: /a.txt$a served");
}
is(get1($p2, '/a.txt?log=last')->{status}, 200, 'if=: a last request');
my $if = wait_lines('if.log', 3);
is_deeply([ map { (split /\|/)[1] } @$if ],
    [ 'GET /a.txt?log=1 HTTP/1.1', 'GET /a.txt?log=yes HTTP/1.1',
        'GET /a.txt?log=last HTTP/1.1' ],
    'if=: only requests whose condition is neither empty nor "0"');

# ---- buffer= and flush= ------------------------------------------------------

my $t0 = time;
is(get1($p3, '/a.txt')->{status}, 200, 'buffered: 200');
if (time - $t0 < 1) {
    is($t->log_size('logs/buf.log'), 0,
        'buf.log: the line waits in the buffer');
}
ok($t->wait_until(sub { @{ lines('buf.log') } == 1 }, 10),
    'buf.log: the line appears after flush=2s');
like(lines('buf.log')->[0] // '', qr{\|GET /a\.txt HTTP/1\.1\|200\|},
    'buf.log: the request');

is(get1($p3, '/nf/a.txt')->{status}, 200, 'buffered, no flush: 200');

# ---- -s reopen after renaming ----------------------------------------------------

rename "$P/logs/combined.log", "$P/logs/combined.log.1" or die $!;
rename "$P/logs/nf.log",       "$P/logs/nf.log.1"       or die $!;
my $off = $t->log_size;
my $r = $t->run('-p', "$P/", '-c', $t->conf_path, '-s', 'reopen');
is($r->{code}, 0, '-s reopen exits 0');
ok($t->wait_until(sub { -e "$P/logs/combined.log" }, 10),
    'the master reopened combined.log');
ok($t->wait_log(qr/reopening logs/, from => $off), 'reopening logs');
# The worker reopens on its own USR1; a request made before it did would
# still go to the old file, so wait until the buffered nf line (flushed by
# the worker before its reopen) is in the old file.
ok($t->wait_until(sub { -s "$P/logs/nf.log.1" }, 10),
    'nf.log: the buffered line went to the old file before the reopen');
like($t->log_text('logs/nf.log.1'), qr{\|GET /nf/a\.txt HTTP/1\.1\|200\|},
    'nf.log.1: the request');
is(get1($p1, '/a.txt?after')->{status}, 200, 'a request after the reopen');
my $new = wait_lines('combined.log', 1);
like($new->[0] // '', qr{"GET /a\.txt\?after HTTP/1\.1" 200 6 },
    'the new combined.log gets the line');
unlike($t->log_text('logs/combined.log.1'), qr/after/,
    'the renamed file does not');

# ---- a reload: the old worker writes its buffer as it exits --------------------

is(get1($p3, '/nf/a.txt?reload')->{status}, 200, 'a buffered line before reload');
unlike($t->log_text('logs/nf.log'), qr/reload/, 'still in the buffer');
$t->reload(workers => 1);
ok($t->wait_until(sub { $t->log_text('logs/nf.log') =~ /\?reload / }, 10),
    'the old worker wrote its buffer when it exited');
is(get1($p1, '/a.txt?new')->{status}, 200, 'the new worker serves');
ok($t->wait_until(
        sub { $t->log_text('logs/combined.log') =~ /"GET \/a\.txt\?new HTTP/ },
        10),
    'and logs to the same file');

# ---- worker exit writes the buffers --------------------------------------------

is(get1($p3, '/nf/a.txt?exit')->{status}, 200, 'one more buffered line');
$t->stop;
like($t->log_text('logs/nf.log'), qr{\|GET /nf/a\.txt\?exit HTTP/1\.1\|200\|},
    'the worker wrote its buffer when it exited');

# ---- -t errors --------------------------------------------------------------------

my @bad = (
    [ 'access_log logs/x.log nosuch;', 'uses unknown log format "nosuch"' ],
    [ 'access_log syslog:server=127.0.0.1;',
        'has a "syslog:" destination, which wmproxy does not support' ],
    [ 'access_log logs/x.log combined gzip;',
        'has parameter "gzip", which wmproxy does not support' ],
    [ 'access_log logs/x.log combined buffer=0;',
        'has invalid buffer size "0"' ],
    [ 'access_log logs/x.log combined flush=x;',
        'has invalid flush time "x"' ],
    [ 'access_log logs/x.log combined if=$nosuch;',
        'uses unknown "nosuch" variable' ],
    [ 'access_log logs/x.log combined what=1;',
        'has invalid parameter "what=1"' ],
    [ 'access_log logs/$host.log;',
        'has variables in the log path, which wmproxy does not support' ],
    [ 'access_log off combined;', 'has invalid number of arguments' ],
    [ 'log_format combined x;', 'has duplicate format name "combined"' ],
    [ 'log_format e escape=xml x;',
        'has unknown escaping "xml", it must be default, json or none' ],
    [ 'log_format e escape=json;', 'has invalid number of arguments' ],
    [ 'log_format e $nosuch;', 'uses unknown "nosuch" variable' ],
    [ 'error_log logs/e.log loud;', 'has invalid level "loud"' ],
    [ 'error_log syslog:server=127.0.0.1;',
        'has a "syslog:" destination, which wmproxy does not support' ],
    [ 'access_log logs/a.log combined buffer=4k; '
          . 'access_log logs/a.log combined buffer=8k;',
        'has "' . "$P/logs/a.log" . '" already defined with conflicting '
          . 'buffer size' ],
);
for my $b (@bad) {
    my ($dir, $msg) = @$b;
    my $name = $dir =~ /^log_format/ ? 'log_format' : $dir =~ /^error_log/
      ? 'error_log' : 'access_log';
    my $conf = $t->write_conf(<<"EOF", name => 'bad.conf');
events { }
http {
    $dir
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    isnt($r->{code}, 0, "-t fails: $dir");
    like($r->{stderr}, qr/\Q$conf\E:6: "$name" directive \Q$msg\E/,
        "-t says: $msg") or diag($r->{stderr});
}
{
    my $conf = $t->write_conf(<<"EOF", name => 'ok.conf');
events { }
http {
    log_format j escape=json '{"a":"\$remote_addr"}' '{"b":\$status}';
    log_format n escape=none '\$remote_user \$sent_http_etag \$pipe';
    access_log logs/t.log j buffer=8k flush=1m if=\$arg_x;
    error_log stderr warn;
    server { listen 127.0.0.1:$p1; access_log off; error_log logs/s.log; }
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 0, '-t accepts the valid forms') or diag($r->{stderr});
    ok(!-e "$P/logs/t.log", '-t opens no access log');
}

$t->done;
