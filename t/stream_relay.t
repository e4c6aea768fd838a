#!/usr/bin/perl
# The stream TCP relay: 24 MB each way at once through the proxy arrive
# intact (sha256), a 32 MB download ends with the upstream's FIN after the
# last byte, a client's FIN after its data delivers that data and closes
# the upstream side (proxy_half_close off, as nginx), an upstream reset
# reaches the client as a reset, and a client that does not read stalls
# the upstream instead of growing the worker's memory.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA;
use Socket qw(SOL_SOCKET SO_LINGER SHUT_WR);
use Time::HiRes qw(sleep time);
use POSIX ();
use WmTest;

my $t = WmTest->new(timeout => 120);
# Each server twice: with splice() (the default) and with proxy_splice off.
my %ports = map { $_ => { map { $_ => $t->port } qw(echo dl sink rst) } }
  qw(splice buffers);
my ($u_echo, $u_dl, $u_sink, $u_rst) = map { $t->port } 1 .. 4;
my $P = $t->prefix;

my @kids;
END { local $?; for (@kids) { kill 'KILL', $_; waitpid($_, 0) } }

# backend(PORT, CODE): a forked server running CODE for each connection
# (children leave with _exit: the test's END blocks are the parent's)
sub backend {
    my ($port, $code) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 16, ReuseAddr => 1) or die "listen $port: $!";
    my $pid = fork // die;
    if (!$pid) {
        while (my $c = $l->accept) {
            my $k = fork // die;
            if (!$k) { $code->($c); POSIX::_exit(0) }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $l;
    push @kids, $pid;
}

sub pattern {
    my ($len, $seed) = @_;
    my $block = join '', map { chr(($_ * 131 + $seed) & 255) } 0 .. 65535;
    return substr($block x (int($len / 65536) + 1), 0, $len);
}

my $DL = pattern(32 * 1024 * 1024, 7);
backend($u_echo, sub {
    my $c = shift;
    while (sysread($c, my $b, 65536)) {
        my $off = 0;
        while ($off < length $b) {
            my $n = syswrite($c, $b, length($b) - $off, $off) // last;
            $off += $n;
        }
    }
});
backend($u_dl, sub {
    my $c = shift;
    my $off = 0;
    while ($off < length $DL) {
        my $n = syswrite($c, $DL, 1 << 20, $off) // last;
        $off += $n;
    }
    close $c;
});
# the sink counts what it got until the FIN and adds a line to a file
# (the harness's readiness probe makes the first, empty one)
backend($u_sink, sub {
    my $c = shift;
    my $sha = Digest::SHA->new(256);
    my $n = 0;
    while (my $r = sysread($c, my $b, 65536)) { $sha->add($b); $n += $r }
    open my $f, '>>', "$P/sink.out";
    print $f "$n " . $sha->hexdigest . "\n";
    close $f;
});
backend($u_rst, sub {
    my $c = shift;
    sysread($c, my $b, 100);
    syswrite($c, "bye\n");
    sleep 0.2;
    setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $c;
});

$t->write_conf(<<"EOF");
events { }
stream {
    server { listen 127.0.0.1:$ports{splice}{echo}; proxy_pass 127.0.0.1:$u_echo; }
    server { listen 127.0.0.1:$ports{splice}{dl}; proxy_pass 127.0.0.1:$u_dl; }
    server { listen 127.0.0.1:$ports{splice}{sink}; proxy_pass 127.0.0.1:$u_sink; }
    server { listen 127.0.0.1:$ports{splice}{rst}; proxy_pass 127.0.0.1:$u_rst; }
    server {
        proxy_splice off;
        listen 127.0.0.1:$ports{buffers}{echo};
        proxy_pass 127.0.0.1:$u_echo;
    }
    server {
        proxy_splice off;
        listen 127.0.0.1:$ports{buffers}{dl};
        proxy_pass 127.0.0.1:$u_dl;
    }
    server {
        proxy_splice off;
        listen 127.0.0.1:$ports{buffers}{sink};
        proxy_pass 127.0.0.1:$u_sink;
    }
    server {
        proxy_splice off;
        listen 127.0.0.1:$ports{buffers}{rst};
        proxy_pass 127.0.0.1:$u_rst;
    }
}
EOF
$t->start(workers => 1,
    ports => [ map { values %{ $ports{$_} } } sort keys %ports ])
  or BAIL_OUT('no start');

sub connect_to {
    IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_[0]", Timeout => 5)
      or die "connect $_[0]: $!";
}

for my $mode (qw(splice buffers)) {
    my $pp  = $ports{$mode};
    my $off = $t->log_size;
    # 24 MB up while the echo comes back: both directions at once.
    {
        my $up = pattern(24 * 1024 * 1024, 3);
        my $c = connect_to($pp->{echo});
        $c->blocking(0);
        my ($off, $got) = (0, '');
        my $sel_r = IO::Select->new($c);
        my $deadline = time + 60;
        while (length($got) < length($up) && time < $deadline) {
            my ($r, $w) = IO::Select->select($sel_r,
                $off < length $up ? $sel_r : undef, undef, 5);
            if ($w && @$w) {
                my $n = syswrite($c, $up, 262144, $off);
                $off += $n if $n;
            }
            if ($r && @$r) {
                my $n = sysread($c, my $b, 262144);
                last if defined $n && $n == 0;
                $got .= $b if $n;
            }
        }
        is(length $got, length $up, "$mode: 24 MB echoed: every byte");
        ok(Digest::SHA::sha256_hex($got) eq Digest::SHA::sha256_hex($up),
            "$mode: 24 MB echoed: the same bytes (sha256)");
    }

    # 32 MB down, then the upstream's FIN.
    {
        my $c = connect_to($pp->{dl});
        my $sha = Digest::SHA->new(256);
        my $n = 0;
        my $sel = IO::Select->new($c);
        while ($sel->can_read(10)) {
            my $r = sysread($c, my $b, 262144);
            last unless $r;
            $sha->add($b);
            $n += $r;
        }
        is($n, length $DL, "$mode: 32 MB download: every byte, then the close");
        is($sha->hexdigest, Digest::SHA::sha256_hex($DL),
            "$mode: 32 MB download: the same bytes");
    }

    # The client's FIN after 5 MB: the upstream gets the 5 MB and then EOF.
    {
        my $data = pattern(5 * 1024 * 1024, 11);
        unlink "$P/sink.out";
        my $c = connect_to($pp->{sink});
        my $off = 0;
        while ($off < length $data) {
            my $n = syswrite($c, $data, 262144, $off) // die "write: $!";
            $off += $n;
        }
        shutdown($c, SHUT_WR);
        my $sel = IO::Select->new($c);
        my $eof = $sel->can_read(10) && !sysread($c, my $b, 10);
        ok($eof, "$mode: after the client FIN the session ends (the client sees EOF)");
        my $line = '';
        ok($t->wait_until(sub {
                    open my $f, '<', "$P/sink.out" or return 0;
                    ($line) = grep { !/^0 / } <$f>;
                    defined $line;
                }, 10), "$mode: the upstream saw the end of the data");
        $line //= '';
        is($line, length($data) . ' ' . Digest::SHA::sha256_hex($data) . "\n",
            "$mode: the upstream got the 5 MB before the FIN");
    }

    # An upstream reset reaches the client as a reset.
    {
        my $c = connect_to($pp->{rst});
        syswrite($c, "hello\n");
        my $sel = IO::Select->new($c);
        my $got = '';
        my $err;
        while ($sel->can_read(5)) {
            my $r = sysread($c, my $b, 100);
            if (!defined $r) { $err = $!{ECONNRESET} ? "ECONNRESET" : "$!"; last }
            last if $r == 0;
            $got .= $b;
        }
        is($got, "bye\n", "$mode: the bytes before the reset arrive");
        ok(defined $err && $err eq "ECONNRESET",
            "$mode: the upstream reset is passed on as a reset")
          or diag('got ' . (defined $err ? "error $err" : 'a clean EOF'));
    }

    # A client that does not read: the worker's memory stays bounded.
    {
        my ($w) = $t->workers;
        my $rss = sub {
            open my $f, '<', "/proc/$w/status" or return 0;
            my ($kb) = map { /^VmRSS:\s+(\d+)/ ? $1 : () } <$f>;
            return $kb // 0;
        };
        my $before = $rss->();
        my $c = connect_to($pp->{dl});
        sleep 1.5;
        my $during = $rss->();
        cmp_ok($during - $before, '<', 8 * 1024,
            "$mode: a client that does not read: the worker grows < 8 MB for 32 MB")
          or diag("RSS $before kB -> $during kB");
        close $c;
    }

    my $spliced = $t->log_since($off) =~ /spliced [1-9]\d* bytes up/ ? 1 : 0;
    is($spliced, $mode eq 'splice' ? 1 : 0,
        "$mode: splice() " . ($mode eq 'splice' ? 'moved the bytes' : 'not used'));
}

my $c = connect_to($ports{splice}{echo});
syswrite($c, "still there\n");
IO::Select->new($c)->can_read(5);
sysread($c, my $b, 100);
is($b, "still there\n", 'still serving');
close $c;

$t->done;
