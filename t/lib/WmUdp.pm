package WmUdp;
# UDP helpers for the stream tests:
#   backend(PORT, CODE)     a child process bound to 127.0.0.1:PORT that
#                           calls CODE->(SOCK, DATA, FROM, SRCPORT) for each
#                           datagram it gets (SOCK to answer on); it ends
#                           when its parent does. Returns its pid.
#   client(PORT)            a UDP socket connected to 127.0.0.1:PORT
#   replies(SOCK, N, QUIET) the datagrams SOCK receives until N came or
#                           nothing came for QUIET seconds (3); N undef
#                           reads until quiet
use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use POSIX ();
use Socket qw(unpack_sockaddr_in);

our @EXPORT_OK = qw(backend client replies);

sub backend {
    my ($port, $code) = @_;
    my $sock = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Proto => 'udp') or die "bind $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 0;
        $SIG{$_} = 'DEFAULT' for qw(ALRM PIPE TERM INT);
        while (1) {
            my $rin = '';
            vec($rin, fileno($sock), 1) = 1;
            my $n = select(my $rout = $rin, undef, undef, 1);
            POSIX::_exit(0) if getppid() == 1;
            next unless $n && $n > 0;
            my $from = recv($sock, my $d, 65535, 0);
            next unless defined $from;
            $code->($sock, $d, $from, (unpack_sockaddr_in($from))[0]);
        }
    }
    close $sock;
    return $pid;
}

sub client {
    my $port = shift;
    return IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'udp') // die "udp socket: $!";
}

sub replies {
    my ($c, $n, $quiet) = @_;
    my @got;
    while (!defined $n || @got < $n) {
        my $rin = '';
        vec($rin, fileno($c), 1) = 1;
        last unless select(my $rout = $rin, undef, undef, $quiet // 3);
        last unless defined recv($c, my $d, 65535, 0);
        push @got, $d;
    }
    return @got;
}

1;
