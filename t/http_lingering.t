#!/usr/bin/perl
# The lingering close as the client sees it: after the response and the
# server's FIN, is the connection still read (what the client sends is
# dropped quietly) or closed (a second write meets a reset)? lingering_close
# on closes at once when the client has sent nothing more, always lingers
# after every response until lingering_timeout passes without data, and
# lingering_time bounds a client that never stops sending; off never
# lingers, even with unread data. Debian's nginx, when installed, gets the
# same configuration and the same clients, and must behave the same.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;
use WmNginx;

$SIG{PIPE} = 'IGNORE';

my $t = WmTest->new(timeout => 180);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);
my %second = ($wport => [ map { $t->port } 1 .. 3 ],
    $nport => [ map { $t->port } 1 .. 3 ]);

$t->write_file('html/a.txt', "a\n");

sub http_body {
    my $port = shift;
    my ($always, $time, $off) = @{ $second{$port} };
    return <<"EOF";
    default_type text/plain;
    root $P/html;
    server { listen 127.0.0.1:$port; }
    server {
        listen 127.0.0.1:$always;
        lingering_close always;
        lingering_timeout 2s;
    }
    server {
        listen 127.0.0.1:$time;
        lingering_close always;
        lingering_time 3s;
        lingering_timeout 30s;
    }
    server {
        listen 127.0.0.1:$off;
        lingering_close off;
        client_max_body_size 10;
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

# Whether the server still reads the connection: two writes a moment
# apart both succeed while it does; after a close the first one draws a
# reset and the second fails.
sub still_read {
    my $c = shift;
    my $a = syswrite($c->{s}, "x");
    sleep 0.4;
    my $b = syswrite($c->{s}, "y");
    return $a && $b ? 1 : 0;
}

# A response with Connection: close, read to its end (the server's FIN).
sub closed_response {
    my ($port, $extra) = @_;
    my $c = WmHttpClient->new($port) or return;
    $c->send("GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close"
          . "\r\n\r\n" . ($extra // ''));
    my $r = $c->read_response;
    return unless !$r->{error} && $r->{status} == 200 && $c->wait_eof(5);
    return $c;
}

for my $port ($wport, $nginx_up ? $nport : ()) {
    my $who = $port == $wport ? 'wmproxy' : 'nginx';
    my ($always, $time, $off) = @{ $second{$port} };

    my $c = closed_response($port);
    ok($c, "$who: lingering_close on: response and FIN");
    is($c && still_read($c), 0, "$who: lingering_close on, nothing more "
          . 'sent: closed at once');

    $c = closed_response($always);
    ok($c, "$who: lingering_close always: response and FIN");
    is($c && still_read($c), 1, "$who: lingering_close always: the "
          . 'connection is still read after the response');
    if ($c) {
        sleep 0.5;
        is(still_read($c), 1, "$who: lingering_close always: data within "
              . 'lingering_timeout keeps it read');
        # Silence longer than lingering_timeout (2s): then it is closed.
        sleep 4;
        is(still_read($c), 0, "$who: lingering_close always: closed after "
              . 'lingering_timeout without data');
    }

    # A client that keeps sending: lingering_time (3s) ends it anyway.
    $c = closed_response($time);
    ok($c, "$who: lingering_time: response and FIN");
    if ($c) {
        my ($t0, $open) = (time, 1);
        while ($open && time - $t0 < 20) {
            $open = still_read($c);
        }
        ok(!$open, "$who: lingering_time 3s: a client that keeps sending "
              . 'is cut off (within 20s)');
        ok(time - $t0 > 1, "$who: lingering_time: ... but not at once")
          or diag(time - $t0);
    }

    # lingering_close off: a 413 with the body still coming, closed at once.
    $c = WmHttpClient->new($off);
    $c->send("POST /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
          . "100000\r\n\r\n" . ('b' x 1000));
    my $r = $c->read_response;
    is($r->{status} // $r->{error}, 413, "$who: lingering_close off: 413");
    ok($c->wait_eof(15), "$who: lingering_close off: then EOF");
    is(still_read($c), 0, "$who: lingering_close off: nothing is read "
          . 'after the response');
}

is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1')->{body}, "a\n",
    'still serving');
$ng->stop if $ng;
$t->done;
