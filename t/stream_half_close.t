#!/usr/bin/perl
# proxy_half_close on, with splice() and with buffers: 100 MB each way at
# once arrive intact (sha256 compared at both ends) while the client's FIN
# after its upload reaches the backend, which then still sends the rest of
# its 100 MB and a trailer; an upstream FIN first leaves the client able to
# send; the access log says how each session ended. With proxy_half_close
# off (the default) the first FIN still ends the session.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Select;
use Socket qw(SHUT_WR);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTcp qw(backend pattern xfer connect_to);
use WmTest;

my $t = WmTest->new(timeout => 600);
my $P = $t->prefix;
my $MB = 1024 * 1024;
my $BIG = 100 * $MB;
my %port = map { $_ => $t->port } qw(both_splice both_buffers fin_splice
  fin_buffers off);
my ($u_both, $u_fin) = ($t->port, $t->port);

my $UP   = pattern($BIG, 5);
my $DOWN = pattern($BIG, 9);

# Sends its 100 MB while reading the client's until EOF (the FIN passed
# on), then a trailer with the count and sha256 of what it read, and closes.
backend($u_both, sub {
    my $c = shift;
    my $r = xfer($c, $DOWN);
    syswrite($c, "$r->{n} $r->{sha} " . ($r->{eof} ? 'eof' : 'no-eof') . "\n");
    close $c;
});
# Says hello and shuts its write side first, then reads until EOF and
# writes what it got to a file named after the client's first line.
backend($u_fin, sub {
    my $c = shift;
    syswrite($c, "hello\n");
    shutdown($c, SHUT_WR);
    my $r = xfer($c, '', timeout => 30);
    open my $f, '>', "$P/fin.out";
    print $f "$r->{n} $r->{sha}\n";
    close $f;
    close $c;
});

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    log_format t '\$server_port \$bytes_received \$bytes_sent \$termination';
    access_log logs/stream.log t;
    proxy_half_close on;

    server { listen 127.0.0.1:$port{both_splice}; proxy_pass 127.0.0.1:$u_both; }
    server {
        listen 127.0.0.1:$port{both_buffers};
        proxy_pass 127.0.0.1:$u_both;
        proxy_splice off;
    }
    server { listen 127.0.0.1:$port{fin_splice}; proxy_pass 127.0.0.1:$u_fin; }
    server {
        listen 127.0.0.1:$port{fin_buffers};
        proxy_pass 127.0.0.1:$u_fin;
        proxy_splice off;
    }
    server {
        listen 127.0.0.1:$port{off};
        proxy_pass 127.0.0.1:$u_fin;
        proxy_half_close off;
    }
}
EOF
# No port probes: each would be a logged session.
$t->start(workers => 1) or BAIL_OUT('no start');

sub log_line {
    my $port = shift;
    my $line;
    $t->wait_until(sub {
            ($line) = grep { /^$port / } split /\n/,
              $t->log_text('logs/stream.log');
            defined $line;
        }, 15);
    return $line // '';
}

for my $mode (qw(splice buffers)) {
    my $p = $port{"both_$mode"};
    my $c = connect_to($p);
    my $t0 = time;
    my $r = xfer($c, $UP, shut => 1, keep => $BIG, timeout => 240);
    close $c;
    note(sprintf '%s: 2 x 100 MB in %.1f s', $mode, time - $t0);
    is($r->{sent}, $BIG, "$mode: the client sent 100 MB, then its FIN");
    ok(!$r->{err}, "$mode: no error on the client side")
      or diag($r->{err});
    is($r->{n} >= $BIG ? $BIG : $r->{n}, $BIG,
        "$mode: the client got 100 MB back after its own FIN");
    ok($r->{sha} eq sha256_hex($DOWN),
        "$mode: the 100 MB download is intact (sha256)");
    is($r->{tail}, "$BIG " . sha256_hex($UP) . " eof\n",
        "$mode: the backend got the 100 MB upload intact, then the FIN");
    ok($r->{eof}, "$mode: the client sees the backend's close");
    is(log_line($p), "$p $BIG " . ($BIG + length $r->{tail})
          . ' upstream_closed',
        "$mode: logged with both byte counts, ended by the upstream");

    # The upstream's FIN first: the client may still send.
    unlink "$P/fin.out";
    $p = $port{"fin_$mode"};
    $c = connect_to($p);
    my $got = '';
    my $sel = IO::Select->new($c);
    while ($sel->can_read(10)) {
        last unless sysread($c, $got, 100, length $got);
    }
    is($got, "hello\n", "$mode: upstream FIN first: the client reads EOF");
    my $data = pattern(3 * $MB, 13);
    $r = xfer($c, $data, shut => 1, timeout => 60);
    is($r->{sent}, length $data, "$mode: ... and can still send 3 MB");
    my $out = '';
    $t->wait_until(sub {
            open my $f, '<', "$P/fin.out" or return 0;
            $out = <$f> // '';
            $out =~ /\n$/;
        }, 15);
    is($out, length($data) . ' ' . sha256_hex($data) . "\n",
        "$mode: the backend got the 3 MB and then the client's FIN");
    is(log_line($p), "$p " . length($data) . ' 6 client_closed',
        "$mode: logged as ended by the client");
    close $c;
}

# proxy_half_close off: the upstream's FIN ends the session at once.
{
    unlink "$P/fin.out";
    my $c = connect_to($port{off});
    my $got = '';
    my $sel = IO::Select->new($c);
    while ($sel->can_read(10)) {
        last unless sysread($c, $got, 100, length $got);
    }
    is($got, "hello\n", 'half_close off: the client gets the bytes, then EOF');
    ok($t->wait_until(sub { -e "$P/fin.out" }, 10),
        'half_close off: the backend sees the session closed');
    open my $f, '<', "$P/fin.out";
    is(scalar <$f>, '0 ' . sha256_hex('') . "\n",
        'half_close off: nothing came from the client');
    is(log_line($port{off}), "$port{off} 0 6 upstream_closed",
        'half_close off: logged as ended by the upstream');
    close $c;
}

$t->done;
