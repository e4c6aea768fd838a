# WmNginx - Debian's nginx next to wmproxy in a test, to compare answers.
#
#   my $ng = WmNginx->new($t) or plan/skip ...;    # undef without nginx
#   $ng->start($http_block_body, $port) or ...;   # one check
#   # or both servers at once, on the same http {} body:
#   my ($ng, $nginx_up, $wm_up) = WmNginx::start_pair($t, \&body, $wport,
#       $nport);
#   my $r = WmNginx::fetch($port, "GET / HTTP/1.1", @headers);
#   $ng->stop;                                    # also at END
#
# nginx runs in the foreground (master_process off) as a child of the test
# with its files below PREFIX/nginx/, and is stopped by its pid only.
package WmNginx;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep);
use WmHttpClient;

my @RUNNING;

sub binary { $ENV{WM_NGINX} // '/usr/sbin/nginx' }

# A handle for the test $t, or undef when nginx is not installed.
sub new {
    my ($class, $t) = @_;
    return undef unless -x binary();
    return bless { t => $t, pid => 0 }, $class;
}

# Writes nginx.conf around the http {} body given (whose listen directives
# name the ports), starts nginx and waits until port accepts. One check.
sub start {
    my ($self, $http, $port) = @_;
    my $t = $self->{t};
    my $d = $t->prefix . '/nginx';
    mkdir $d;
    mkdir "$d/$_" for qw(logs tmp);
    my $temp = join '', map { "    ${_}_temp_path $d/tmp/$_;\n" }
      qw(client_body proxy fastcgi uwsgi scgi);
    my $conf = $t->write_file('nginx/nginx.conf', <<"EOF");
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/logs/error.log info;
events { }
http {
    access_log off;
$temp$http
}
EOF
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', "$d/logs/stdout";
        open STDERR, '>', "$d/logs/stderr";
        { no warnings 'exec';
          exec binary(), '-p', "$d/", '-e', "$d/logs/error.log", '-c',
            $conf; }
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    push @RUNNING, $self;
    my $up = $t->wait_until(sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Timeout => 0.5) or return 0;
        close $s;
        return 1;
    }, 10);
    $self->{pid} = 0 if $up == -1;
    ok($up == 1, 'nginx started')
      or diag(do { local (@ARGV, $/) = ("$d/logs/stderr"); <> } // '');
    return $up == 1;
}

sub log_text {
    my $self = shift;
    open my $fh, '<', $self->{t}->prefix . '/nginx/logs/error.log'
      or return '';
    local $/;
    return <$fh>;
}

sub stop {
    my $self = shift;
    my $pid = $self->{pid} or return;
    kill 'QUIT', $pid;
    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    $self->{pid} = 0;
}

END { $_->stop for @RUNNING }

# Writes wmproxy's configuration (one worker) around the http {} body
# that $body->($port) makes, starts nginx on the same body with its own
# port when it is installed, then wmproxy. Returns (the nginx handle or
# undef, whether nginx runs, whether wmproxy runs); one check each.
sub start_pair {
    my ($t, $body, $wport, $nport) = @_;
    $t->write_conf("worker_processes 1;\nevents { }\nhttp {\n"
          . $body->($wport) . "}\n");
    my $ng = WmNginx->new($t);
    my $up = $ng && $ng->start($body->($nport), $nport);
    my $wm = $t->start(workers => 1, ports => [$wport]);
    return ($ng, $up, $wm);
}

# One request on a new connection (Host: localhost:PORT and Connection:
# close added unless a header says otherwise); the response of
# WmHttpClient::read_response.
sub fetch {
    my ($port, $line, @h) = @_;
    my $raw = "$line\r\n";
    $raw .= "Host: localhost:$port\r\n" unless grep { /^Host:/i } @h;
    $raw .= "$_\r\n" for @h;
    $raw .= "Connection: close\r\n" unless grep { /^Connection:/i } @h;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send("$raw\r\n");
    return $c->read_response(head => scalar($line =~ /^HEAD /));
}

# The parts of a response that should not differ between the two
# servers: status line, body (signature and port replaced) and the named
# header fields ('<none>' when missing).
sub comparable {
    my ($r, $port, @fields) = @_;
    return { error => $r->{error} } if $r->{error};
    my $norm = sub {
        my $s = shift;
        return '<none>' unless defined $s;
        $s =~ s/\b(?:nginx|wmproxy)(?:\/[\d.]+)?(?=<\/center>)/SIGNATURE/g;
        $s =~ s/\b\Q$port\E\b/PORT/g;
        return $s;
    };
    return { line => $r->{line}, body => $norm->($r->{body}),
        map { ($_ => $norm->($r->{h}{$_})) } @fields };
}

1;
