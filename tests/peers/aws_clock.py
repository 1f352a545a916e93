"""AWS's refusal of a signature dated too far from its clock, shared by the
peers that check signatures (faultproxy.py in front of moto for Secrets
Manager, autoscaling.py). Standard library only: both Pythons import it.

AWS answers a request whose X-Amz-Date is more than 5 minutes from its own
clock with InvalidSignatureException (JSON APIs) or SignatureDoesNotMatch
(Query APIs) and this text."""
import calendar
import time

MAX_SKEW = 5 * 60


def skew_error(amz_date, now=None):
    """The refusal text for a signature dated more than 5 minutes from our
    clock, or None (also for a missing or malformed date)."""
    if not amz_date:
        return None
    try:
        stamp = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None
    now = time.time() if now is None else now
    fmt = "%Y%m%dT%H%M%SZ"
    if stamp < now - MAX_SKEW:
        return ("Signature expired: %s is now earlier than %s (%s - 5 min.)"
                % (amz_date, time.strftime(fmt, time.gmtime(now - MAX_SKEW)), time.strftime(fmt, time.gmtime(now))))
    if stamp > now + MAX_SKEW:
        return ("Signature not yet current: %s is still later than %s (%s + 5 min.)"
                % (amz_date, time.strftime(fmt, time.gmtime(now + MAX_SKEW)), time.strftime(fmt, time.gmtime(now))))
    return None
