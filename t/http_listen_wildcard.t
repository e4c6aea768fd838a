#!/usr/bin/perl
# A wildcard listen and specific listens on the same port, as nginx: only
# 0.0.0.0:P is bound and each connection goes to the servers of its local
# address. Binding 0.0.0.0 is only done inside a network namespace made for
# the test (unshare -n), where the only interface is loopback.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);

my $bin = $ENV{WM_BINARY} // '';
plan skip_all => 'WM_BINARY is not set' unless -x $bin;
plan skip_all => 'needs root for unshare -n' if $> != 0;
my $probe = system('unshare -n true 2>/dev/null');
plan skip_all => 'unshare -n is not available' if $probe != 0;
plan skip_all => 'ip and curl are needed'
  if system('command -v ip >/dev/null && command -v curl >/dev/null') != 0;

alarm 60;
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/logs";
open my $fh, '>', "$dir/wm.conf" or die $!;
print $fh <<'EOF';
daemon off; pid logs/wm.pid; error_log logs/error.log info; user root;
events {}
http {
    server { listen 18095; return 200 "wildcard $server_addr\n"; }
    server { listen 127.0.0.1:18095; return 200 "one $server_addr\n"; }
    server { listen 127.0.0.3:18095; return 200 "three $server_addr\n"; }
    server { listen 127.0.0.3:18095; server_name named.test;
             return 200 "three named\n"; }
}
EOF
close $fh;

# Everything runs in the namespace; the wmproxy started there is stopped
# by its pid before the shell exits.
my $script = <<"EOS";
ip link set lo up || exit 3
$bin -p $dir -c $dir/wm.conf & P=\$!
for i in \$(seq 1 50); do ss -ltn 2>/dev/null | grep -q ':18095 ' && break; sleep 0.1; done
echo "sockets: \$(ss -ltn | grep -c ':18095 ')"
for a in 127.0.0.1 127.0.0.2 127.0.0.3; do curl -s --max-time 5 http://\$a:18095/; done
curl -s --max-time 5 -H 'Host: named.test' http://127.0.0.3:18095/
kill -QUIT \$P; wait \$P; echo "exit \$?"
EOS
open my $sh, '>', "$dir/run.sh" or die $!;
print $sh $script;
close $sh;
my $out = `unshare -n sh $dir/run.sh 2>&1`;
is($out, "sockets: 1\n"
    . "one 127.0.0.1\n"
    . "wildcard 127.0.0.2\n"
    . "three 127.0.0.3\n"
    . "three named\n"
    . "exit 0\n",
    'one wildcard socket serves the specific addresses of the port');

my $log = do { local $/; open my $l, '<', "$dir/logs/error.log"; <$l> // '' };
is(scalar(() = $log =~ /listening on /g), 1, 'only 0.0.0.0:18095 is opened');
like($log, qr/listening on 0\.0\.0\.0:18095 \(tcp\)/, 'it is the wildcard');
unlike($log, qr/\[(alert|emerg)\]/, 'no alert or emerg in the error log');
done_testing;
