#!/usr/bin/perl
# proxy_download_rate and proxy_upload_rate, with splice() and with
# buffers: 1 MB at 256 KiB/s takes at least 3 s (one second's worth may
# pass at once, then the rate), never runs ahead of the rate while it
# flows, and arrives intact. Only lower bounds on time are asserted: a slow
# machine can only make them longer. Bad values are -t errors.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Select;
use Test::More;
use Time::HiRes qw(sleep time);
use WmTcp qw(backend pattern xfer connect_to);
use WmTest;

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my $RATE = 256 * 1024;
my $LEN = 1024 * 1024;
my $DATA = pattern($LEN, 21);
my %port = map { $_ => $t->port } qw(dl_splice dl_buffers ul_splice
  ul_buffers small);
my ($u_dl, $u_sink, $u_small) = map { $t->port } 1 .. 3;

# sends 1 MB and closes
backend($u_dl, sub {
    my $c = shift;
    xfer($c, $DATA, shut => 1, timeout => 60);
    close $c;
});
# reads until EOF; writes "count sha256 time-of-EOF" to sink.out
backend($u_sink, sub {
    my $c = shift;
    my $r = xfer($c, '', timeout => 60);
    open my $f, '>', "$P/sink.out.tmp";
    printf $f "%d %s %.3f\n", $r->{n}, $r->{sha}, time;
    close $f;
    rename "$P/sink.out.tmp", "$P/sink.out";
    close $c;
});
backend($u_small, sub {
    my $c = shift;
    xfer($c, 'x' x 300, shut => 1, timeout => 60);
    close $c;
});

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    proxy_download_rate 256k;
    server { listen 127.0.0.1:$port{dl_splice}; proxy_pass 127.0.0.1:$u_dl; }
    server {
        listen 127.0.0.1:$port{dl_buffers};
        proxy_pass 127.0.0.1:$u_dl;
        proxy_splice off;
    }
    server {
        listen 127.0.0.1:$port{ul_splice};
        proxy_pass 127.0.0.1:$u_sink;
        proxy_download_rate 0;
        proxy_upload_rate 256k;
    }
    server {
        listen 127.0.0.1:$port{ul_buffers};
        proxy_pass 127.0.0.1:$u_sink;
        proxy_splice off;
        proxy_upload_rate 262144;
    }
    server {
        listen 127.0.0.1:$port{small};
        proxy_pass 127.0.0.1:$u_small;
        proxy_download_rate 100;
    }
}
EOF
$t->start(workers => 1) or BAIL_OUT('no start');

for my $mode (qw(splice buffers)) {
    # download: the client reads as fast as it can and samples its count
    my $c = connect_to($port{"dl_$mode"});
    my $t0 = time;
    my $sha = Digest::SHA->new(256);
    my ($n, $ahead) = (0, '');
    my $sel = IO::Select->new($c);
    while ($sel->can_read(10)) {
        my $r = sysread($c, my $b, 65536);
        last unless $r;
        $n += $r;
        $sha->add($b);
        my $el = time - $t0;
        # at most one second's worth ahead of the rate, plus one read
        $ahead ||= "$n bytes after ${el}s"
          if $n > $RATE * ($el + 1) + 65536;
    }
    my $el = time - $t0;
    close $c;
    is($n, $LEN, "$mode: download: every byte");
    is($sha->hexdigest, sha256_hex($DATA), "$mode: download: intact");
    cmp_ok($el, '>=', 0.9 * ($LEN / $RATE - 1),
        "$mode: download: 1 MB at 256k/s takes about 3 s at least");
    is($ahead, '', "$mode: download: never ahead of the rate");

    # upload: the client's bytes wait in wmproxy's socket; the sink times
    # the end of its read
    unlink "$P/sink.out";
    $c = connect_to($port{"ul_$mode"});
    $t0 = time;
    my $r = xfer($c, $DATA, shut => 1, timeout => 60);
    is($r->{sent}, $LEN, "$mode: upload: the client sent 1 MB and its FIN");
    my $out = '';
    $t->wait_until(sub {
            open my $f, '<', "$P/sink.out" or return 0;
            $out = <$f> // '';
        }, 20);
    my ($got, $gsha, $at) = split ' ', $out;
    is($got // 0, $LEN, "$mode: upload: the backend got every byte");
    is($gsha // '', sha256_hex($DATA), "$mode: upload: intact");
    cmp_ok(($at // 0) - $t0, '>=', 0.9 * ($LEN / $RATE - 1),
        "$mode: upload: 1 MB at 256k/s takes about 3 s at least");
    close $c;
}

# A rate below a batch of a tenth of a second: 300 bytes at 100 bytes/s.
{
    my $c = connect_to($port{small});
    my $t0 = time;
    my $got = '';
    my $sel = IO::Select->new($c);
    while ($sel->can_read(10)) {
        last unless sysread($c, $got, 1000, length $got);
    }
    is($got, 'x' x 300, '100 bytes/s: all 300 bytes');
    cmp_ok(time - $t0, '>=', 1.8, '100 bytes/s: 300 bytes take 2 s at least');
}

for my $b (
    [ 'proxy_upload_rate fast;', qr/"proxy_upload_rate" directive has invalid value "fast"/ ],
    [ 'proxy_download_rate -1;', qr/"proxy_download_rate" directive has invalid value "-1"/ ],
    [ 'proxy_download_rate 1k 2k;', qr/"proxy_download_rate" directive has invalid number of arguments/ ],
  )
{
    $t->conf_rejected(<<"EOF", 8, $b->[1], $b->[0]);
events { }
stream {
    server {
        listen 127.0.0.1:$port{small};
        $b->[0]
        proxy_pass 127.0.0.1:$u_small;
    }
}
EOF
}

is($t->talk($port{small}, '', timeout => 20, keep_open => 1), 'x' x 300,
    'still serving after the checks');
$t->done;
