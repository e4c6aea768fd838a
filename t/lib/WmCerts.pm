package WmCerts;
# Test certificates made with openssl(1) (each run bounded by timeout(1)):
#
#   ca(DIR, NAME, CN)      a CA: DIR/NAME.key and self-signed DIR/NAME.crt
#   cert(DIR, NAME, CN, by => CA, client => 1, ocsp => URL, ec => 1)
#                          a key and a certificate signed by the CA `by`,
#                          for a server (subjectAltName DNS:CN) or a client,
#                          with an OCSP responder URL (Authority Information
#                          Access) and a P-256 key when asked; returns the
#                          serial number in hex (as an openssl ca index has it)
#   have_tools()           '' when openssl, timeout and IO::Socket::SSL are
#                          there, else why not (for skip_all)
use strict;
use warnings;

use POSIX ();
use Exporter 'import';

our @EXPORT_OK = qw(ca cert have_tools);

my $serial = 1000;

sub have_tools {
    for my $tool ('openssl', 'timeout') {
        next if grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
        return "$tool is not installed";
    }
    return eval { require IO::Socket::SSL; 1 }
      ? '' : 'IO::Socket::SSL is not installed';
}

# openssl with argv, output into DIR/openssl.log; dies when it fails
sub run {
    my ($dir, @argv) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<',  '/dev/null';
        open STDOUT, '>>', "$dir/openssl.log";
        open STDERR, '>>', "$dir/openssl.log";
        { no warnings 'exec'; exec 'timeout', '-s', 'KILL', 60, 'openssl', @argv; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "openssl @argv failed (see $dir/openssl.log)" if $?;
}

sub ca {
    my ($dir, $name, $cn) = @_;
    run($dir, 'req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', "$dir/$name.key", '-out', "$dir/$name.crt", '-days', 2,
        '-subj', "/CN=$cn", '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

sub cert {
    my ($dir, $name, $cn, %o) = @_;
    run($dir, 'req', '-new', '-newkey', $o{ec} ? 'ec' : 'rsa:2048',
        $o{ec} ? ('-pkeyopt', 'ec_paramgen_curve:P-256') : (), '-nodes',
        '-keyout', "$dir/$name.key", '-out', "$dir/$name.csr", '-subj',
        "/CN=$cn");
    open my $ext, '>', "$dir/$name.ext" or die "$name.ext: $!";
    print $ext $o{client}
      ? "extendedKeyUsage=clientAuth\n"
      : "subjectAltName=DNS:$cn\nextendedKeyUsage=serverAuth\n";
    print $ext "authorityInfoAccess=OCSP;URI:$o{ocsp}\n" if $o{ocsp};
    close $ext;
    my $sn = $serial;
    run($dir, 'x509', '-req', '-in', "$dir/$name.csr", '-CA',
        "$dir/$o{by}.crt", '-CAkey', "$dir/$o{by}.key", '-set_serial',
        $serial++, '-days', 2, '-out', "$dir/$name.crt", '-extfile',
        "$dir/$name.ext");
    my $hex = sprintf '%X', $sn;
    return length($hex) % 2 ? "0$hex" : $hex;
}

1;
