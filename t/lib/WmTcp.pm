package WmTcp;
# Raw TCP helpers for the stream tests: forked backends, deterministic
# payloads, and a transfer loop that sends and receives at once (so that
# neither side's socket buffer fills and deadlocks a big transfer).
#
#   backend(PORT, CODE, tls => {...})
#                          a forked server on 127.0.0.1:PORT running CODE
#                          with each accepted socket in its own child;
#                          killed (by pid) when the test ends; with tls,
#                          IO::Socket::SSL server options: the child makes
#                          the TLS handshake first (CODE gets the TLS
#                          socket; a failed handshake ends the child)
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
#   writeall(SOCK, DATA)   blocking writes of all DATA (TLS sockets too);
#                          1, or undef on a failed write
#   drain(SOCK, CODE)      blocking reads until the end (TLS sockets too:
#                          no select, which cannot see decrypted bytes);
#                          CODE, if given, runs after each read with the
#                          count so far; returns {n, sha}
#   reset_close(SOCK)      closes with a reset (SO_LINGER 0; on a TLS
#                          socket without close_notify)
#   log_line(T, FILE, RE)  waits (15 s at most) for a line of the log FILE
#                          of the WmTest T that matches RE; it, or ''
use strict;
use warnings;

use Digest::SHA;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SHUT_WR SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time);
use Exporter 'import';

our @EXPORT_OK = qw(backend pattern xfer connect_to writeall drain log_line
  reset_close);

my @kids;
my $parent = $$;
END {
    if ($$ == $parent) {
        local $?;
        for (@kids) { kill 'KILL', $_; waitpid($_, 0) }
    }
}

sub backend {
    my ($port, $code, %o) = @_;
    my $ctx;
    if ($o{tls}) {
        require IO::Socket::SSL;
        # made once here: the children share its session ticket keys
        $ctx = IO::Socket::SSL::SSL_Context->new(SSL_server => 1,
            %{ $o{tls} }) or die "context: $IO::Socket::SSL::SSL_ERROR";
    }
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 128, ReuseAddr => 1) or die "listen $port: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $c = $l->accept or next;
            my $k = fork // die;
            if (!$k) {
                if ($ctx && !IO::Socket::SSL->start_SSL($c, SSL_server => 1,
                        SSL_reuse_ctx => $ctx, Timeout => 10))
                {
                    POSIX::_exit(0);
                }
                $code->($c);
                POSIX::_exit(0);
            }
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

sub writeall {
    my ($s, $data) = @_;
    local $SIG{PIPE} = 'IGNORE';
    for (my $off = 0; $off < length $data;) {
        $off += syswrite($s, $data, 65536, $off) // return undef;
    }
    return 1;
}

sub drain {
    my ($s, $each) = @_;
    my $sha = Digest::SHA->new(256);
    my $n = 0;
    while (my $got = sysread($s, my $b, 65536)) {
        $sha->add($b);
        $n += $got;
        $each->($n) if $each;
    }
    return { n => $n, sha => $sha->hexdigest };
}

sub reset_close {
    my $s = shift;
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    # a TLS socket's close sends close_notify first, unless told not to
    return $s->isa('IO::Socket::SSL') ? $s->close(SSL_no_shutdown => 1)
      : CORE::close($s);
}

sub log_line {
    my ($t, $file, $re) = @_;
    my $line;
    $t->wait_until(sub {
            ($line) = grep { /$re/ } split /\n/, $t->log_text($file);
            defined $line;
        }, 15);
    return $line // '';
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
