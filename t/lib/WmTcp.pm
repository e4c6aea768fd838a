package WmTcp;
# Raw TCP helpers for the stream tests: forked backends, deterministic
# payloads, and a transfer loop that sends and receives at once (so that
# neither side's socket buffer fills and deadlocks a big transfer).
#
#   backend(PORT, CODE)    a forked server on 127.0.0.1:PORT running CODE
#                          with each accepted socket in its own child;
#                          killed (by pid) when the test ends
#   pattern(LEN, SEED)     LEN bytes that depend on SEED
#   xfer(SOCK, DATA, shut => 1, keep => BYTES, want => BYTES, timeout => S)
#                          sends DATA while reading; with shut the write
#                          side is shut down after the last byte; reads
#                          until EOF (or until `want` bytes came). Returns a hash: n (bytes read), sha
#                          (sha256 hex of the first `keep` bytes, all when
#                          keep is not given), tail (bytes after keep),
#                          sent, eof (1 when EOF came), err ($! of a failed
#                          read or write)
#   connect_to(PORT)       a blocking client socket to 127.0.0.1:PORT
use strict;
use warnings;

use Digest::SHA;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SHUT_WR);
use Time::HiRes qw(time);
use Exporter 'import';

our @EXPORT_OK = qw(backend pattern xfer connect_to);

my @kids;
my $parent = $$;
END {
    if ($$ == $parent) {
        local $?;
        for (@kids) { kill 'KILL', $_; waitpid($_, 0) }
    }
}

sub backend {
    my ($port, $code) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 128, ReuseAddr => 1) or die "listen $port: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $c = $l->accept or next;
            my $k = fork // die;
            if (!$k) { $code->($c); POSIX::_exit(0) }
            close $c;
        }
    }
    close $l;
    push @kids, $pid;
    return $pid;
}

sub pattern {
    my ($len, $seed) = @_;
    my $block = join '', map { chr(($_ * 131 + $seed) & 255) } 0 .. 65535;
    return substr($block x (int($len / 65536) + 1), 0, $len);
}

sub connect_to {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or die "connect $port: $!";
    return $s;
}

sub xfer {
    my ($s, $data, %o) = @_;
    my $deadline = time + ($o{timeout} // 120);
    my $sha = Digest::SHA->new(256);
    my %r = (n => 0, sent => 0, eof => 0, tail => '');
    my $keep = $o{keep};
    my $len = length($data // '');
    my $shut = 0;
    local $SIG{PIPE} = 'IGNORE';
    $s->blocking(0);
    my $sel = IO::Select->new($s);
    while (time < $deadline) {
        if ($r{sent} == $len && $o{shut} && !$shut) {
            shutdown($s, SHUT_WR);
            $shut = 1;
        }
        last if ($r{eof} || (defined $o{want} && $r{n} >= $o{want}))
          && $r{sent} == $len;
        my ($rd, $wr) = IO::Select->select($sel,
            $r{sent} < $len ? $sel : undef, undef, 5);
        if ($wr && @$wr) {
            my $n = syswrite($s, $data, 262144, $r{sent});
            if (!defined $n && !$!{EAGAIN}) { $r{err} = "$!"; last }
            $r{sent} += $n if $n;
        }
        if ($rd && @$rd && !$r{eof}) {
            my $n = sysread($s, my $b, 262144);
            if (!defined $n) {
                next if $!{EAGAIN};
                $r{err} = "$!";
                last;
            }
            if ($n == 0) { $r{eof} = 1; next }
            if (defined $keep && $r{n} + $n > $keep) {
                my $k = $keep > $r{n} ? $keep - $r{n} : 0;
                $sha->add(substr($b, 0, $k));
                $r{tail} .= substr($b, $k);
            } else {
                $sha->add($b);
            }
            $r{n} += $n;
        }
    }
    $s->blocking(1);
    $r{sha} = $sha->hexdigest;
    return \%r;
}

1;
