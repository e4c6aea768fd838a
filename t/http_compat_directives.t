#!/usr/bin/perl
# The small http switches of nginx configurations: recursive_error_pages
# (off: an error while serving an error_page gets the built-in page; on:
# its own error_page), chunked_transfer_encoding off (a body of unknown
# length ends with the connection), sendfile_max_chunk (a large file
# still arrives whole, other clients served meanwhile),
# reset_timedout_connection (a send_timeout ends with a RST instead of a
# FIN after the queued bytes), and the settings wmproxy accepts and checks
# without needing them (open_file_cache*, output_buffers,
# client_body_buffer_size, client_body_temp_path): -t takes them, and
# refuses bad values with file:line. Answers are compared with Debian's
# nginx on the same http {} block when it is installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use Errno qw(ECONNRESET);
use Test::More;
use Time::HiRes qw(time sleep);
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);

$t->write_file('html/c.txt', "the last page\n");
$t->write_file('html/list/one.txt', "1\n");
my $big = join '', map { chr(($_ * 13 + ($_ >> 11)) & 255) } 0 .. 3 * 1024 * 1024 - 1;
$t->write_file('html/big.bin', $big);
$t->write_file('html/huge.bin', 'h' x (24 * 1024 * 1024));

sub http_body {
    my $port = shift;
    return <<"EOF";
    default_type text/plain;
    open_file_cache max=1000 inactive=20s;
    open_file_cache_valid 30s;
    open_file_cache_min_uses 2;
    open_file_cache_errors on;
    output_buffers 2 32k;
    client_body_buffer_size 16k;
    server {
        listen 127.0.0.1:$port;
        client_body_temp_path $P/nginx/tmp/body2 1 2;
        server_name localhost;
        root $P/html;

        location /a/ { error_page 404 /b/missing; }
        location /b/ { error_page 404 /c.txt; }
        location /ra/ { recursive_error_pages on; error_page 404 /rb/missing; }
        location /rb/ { error_page 404 /c.txt; }
        location /rc/ { error_page 404 /rb/missing; }
        location /cyc/ { recursive_error_pages on; error_page 404 /cyc/missing; }
        location /list/ { autoindex on; }
        location /nochunk/ {
            alias $P/html/list/;
            autoindex on;
            chunked_transfer_encoding off;
        }
        location /chunkmax/ { alias $P/html/; sendfile_max_chunk 16k; }
    }
EOF
}

mkdir "$P/nginx"; mkdir "$P/nginx/tmp";
my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my @F = ('content-type', 'transfer-encoding', 'connection');
sub as_nginx {
    my ($name, $line, $w, @f) = @_;
    return unless $nginx_up;
    @f = @F unless @f;
    is_deeply(WmNginx::comparable($w, $wport, @f),
        WmNginx::comparable(WmNginx::fetch($nport, "$line HTTP/1.1"),
            $nport, @f),
        "$name: as nginx");
}

# recursive_error_pages off: the second 404 gets the built-in page.
my $r = WmNginx::fetch($wport, 'GET /a/x HTTP/1.1');
is($r->{status}, 404, 'recursive_error_pages off: 404');
like($r->{body}, qr{<title>404 Not Found</title>},
    'recursive_error_pages off: the built-in page');
as_nginx('recursive_error_pages off', 'GET /a/x', $r);

# on, in the location of the first error_page: the target's error_page
# applies too.
$r = WmNginx::fetch($wport, 'GET /ra/x HTTP/1.1');
is($r->{status}, 404, 'recursive_error_pages on: 404');
is($r->{body}, "the last page\n", 'recursive_error_pages on: the second page');
is($r->{h}{'content-type'}, 'text/plain',
    'recursive_error_pages on: the type of the page (nginx says text/html)');
as_nginx('recursive_error_pages on', 'GET /ra/x', $r, 'connection');

# on only in the target's location: not enough, as in nginx.
$r = WmNginx::fetch($wport, 'GET /rc/x HTTP/1.1');
like($r->{body}, qr{<title>404 Not Found</title>},
    'recursive_error_pages on below only: the built-in page');
as_nginx('recursive_error_pages on below only', 'GET /rc/x', $r);

# An error_page that loops ends with a 500 (the redirect limit).
$r = WmNginx::fetch($wport, 'GET /cyc/x HTTP/1.1');
is($r->{status}, 500, 'recursive error pages that loop: 500');
as_nginx('recursive error pages that loop', 'GET /cyc/x', $r);
ok($t->wait_log(qr/\[error\] .*cycle/), 'the loop is logged');

# chunked_transfer_encoding: the listing is chunked, or ends with the
# connection.
$r = WmNginx::fetch($wport, 'GET /list/ HTTP/1.1', 'Connection: keep-alive');
is($r->{h}{'transfer-encoding'}, 'chunked', 'chunked_transfer_encoding on');
is($r->{h}{connection}, 'keep-alive', 'chunked: keep-alive');
{
    my $c = WmHttpClient->new($wport);
    $c->send("GET /nochunk/ HTTP/1.1\r\nHost: x\r\n\r\n");
    ok($c->wait_eof(20), 'chunked_transfer_encoding off: the server closes');
    my ($head, $body) = split /\r\n\r\n/, $c->{buf}, 2;
    unlike($head, qr/^Transfer-Encoding:/mi, 'off: no Transfer-Encoding');
    unlike($head, qr/^Content-Length:/mi, 'off: no Content-Length');
    like($head, qr/^Connection: close\r?$/mi, 'off: Connection: close');
    like($body, qr{<a href="one.txt">one.txt</a>}, 'off: the listing');
}
$r = WmNginx::fetch($wport, 'GET /nochunk/ HTTP/1.1');
as_nginx('chunked_transfer_encoding off', 'GET /nochunk/', $r);

# sendfile_max_chunk 16k: a 3 MiB file whole, and a client served while
# another one takes a large file.
$r = WmNginx::fetch($wport, 'GET /chunkmax/big.bin HTTP/1.1');
is(md5_hex($r->{body}), md5_hex($big), 'sendfile_max_chunk 16k: the right bytes');
{
    my $slow = WmHttpClient->new($wport, 4096);
    $slow->send("GET /chunkmax/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    my $q = WmNginx::fetch($wport, 'GET /c.txt HTTP/1.1');
    is($q->{body}, "the last page\n", 'served during a long sendfile');
}

# reset_timedout_connection: the server is configured anew for it (a
# short send_timeout); a client that reads nothing gets a RST, else the
# queued bytes then a FIN.
$t->stop(signal => 'TERM');
$t->write_conf(<<"EOF");
events { }
http {
    default_type application/octet-stream;
    send_timeout 1s;
    server {
        listen 127.0.0.1:$wport;
        root $P/html;
        location /reset/ { alias $P/html/; reset_timedout_connection on; }
    }
}
EOF
$t->start(ports => [$wport]) or do { $t->done; exit };
for my $case ([ '/reset/huge.bin', 1 ], [ '/huge.bin', 0 ]) {
    my ($uri, $reset) = @$case;
    my $off = $t->log_size;
    my $c = WmHttpClient->new($wport, 4096);
    $c->send("GET $uri HTTP/1.1\r\nHost: x\r\n\r\n");
    ok($t->wait_log(qr/client timed out while sending the response/,
        from => $off, timeout => 20), "$uri: send_timeout");
    sleep 0.3;
    my $deadline = time + 30;
    1 while $c->fill($deadline);
    if ($reset) {
        ok($c->{reset}, 'reset_timedout_connection on: the client gets a RST');
    } else {
        ok($c->{eof} && !$c->{reset}, 'off: the bytes queued, then a FIN');
    }
}

# -t: accepted values, and bad ones with file:line.
my $base = "events { }\nhttp {\n";
my $ok = $t->write_conf("${base}sendfile_max_chunk 0;\nopen_file_cache off;\n"
      . "client_body_temp_path /tmp/x;\nrecursive_error_pages on;\n}\n",
    name => 'good.conf');
my $run = $t->run('-p', "$P/", '-c', $ok, '-t');
is($run->{code}, 0, '-t takes the accepted settings') or diag($run->{stderr});
for my $bad (
    [ 'open_file_cache max=0;', qr/"open_file_cache" directive has invalid max/ ],
    [ 'open_file_cache inactive=20s;', qr/must have the "max" parameter/ ],
    [ 'open_file_cache max=10 big=1;', qr/has invalid parameter "big=1"/ ],
    [ 'open_file_cache_valid soon;', qr/"open_file_cache_valid" directive/ ],
    [ 'open_file_cache_min_uses 0;', qr/"open_file_cache_min_uses" directive/ ],
    [ 'open_file_cache_errors maybe;', qr/"open_file_cache_errors" directive/ ],
    [ 'output_buffers 2;', qr/"output_buffers" directive has invalid number of arg/ ],
    [ 'output_buffers 0 32k;', qr/has invalid number "0"/ ],
    [ 'output_buffers 2 big;', qr/has invalid size "big"/ ],
    [ 'client_body_buffer_size lots;', qr/"client_body_buffer_size" directive/ ],
    [ 'client_body_temp_path /tmp/x 3;', qr/has invalid level "3"/ ],
    [ 'sendfile_max_chunk -1;', qr/"sendfile_max_chunk" directive/ ],
    [ 'chunked_transfer_encoding maybe;', qr/"chunked_transfer_encoding" directive/ ],
    [ 'reset_timedout_connection 1;', qr/"reset_timedout_connection" directive/ ],
    [ 'recursive_error_pages yes;', qr/"recursive_error_pages" directive/ ],
  )
{
    my ($d, $re) = @$bad;
    $t->conf_rejected("${base}$d\n}\n", 6, $re, $d);
}

$ng->stop if $ng;
$t->done;
