"""The `calculate` tool: exact arithmetic on a safe subset of Python expressions (no `eval`)."""

from __future__ import annotations

import ast
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

MAX_EXPRESSION_CHARS = 2000
MAX_NODES = 400
MAX_BITS = 200_000  # bound on any numerator or denominator (about 60,000 decimal digits)
MAX_ROOT_DEGREE = 1000
MAX_DECIMAL_EXPONENT = 10_000  # in literals such as 1e500
EXACT_DIGITS_SHOWN = 1000
APPROX_DIGITS = 30


class CalcError(ValueError):
    """An expression the calculator refuses or cannot evaluate; the message is meant for the model."""


def _iroot(n: int, k: int) -> int:
    """floor(n ** (1/k)) for n >= 0, exactly (Newton's method on integers)."""
    if n < 2:
        return n
    x = 1 << -(-n.bit_length() // k)  # 2**ceil(bits/k) >= the root
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _bits(value: Fraction) -> int:
    return max(abs(value.numerator).bit_length(), value.denominator.bit_length())


class _Evaluator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.approximate = False

    def check(self, value: Fraction) -> Fraction:
        if _bits(value) > MAX_BITS:
            raise CalcError("the result is too large (more than about 60,000 digits)")
        return value

    def eval(self, node: ast.AST) -> Fraction:
        match node:
            case ast.Expression(body=body):
                return self.eval(body)
            case ast.Constant(value=bool()):
                raise CalcError("booleans are not numbers here")
            case ast.Constant(value=int() | float()):
                return self.literal(node)
            case ast.Constant(value=complex()):
                raise CalcError("complex numbers are not supported")
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.eval(operand)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.eval(operand)
            case ast.BinOp(left=left, op=op, right=right):
                return self.binary(op, self.eval(left), self.eval(right))
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in ("abs", "sqrt"):
                if len(args) != 1:
                    raise CalcError(f"{name}() takes exactly one argument")
                value = self.eval(args[0])
                return abs(value) if name == "abs" else self.power(value, Fraction(1, 2))
            case ast.Name(id=name):
                raise CalcError(f"unknown name {name!r}: only numbers, + - * / // % ** ( ), abs() and sqrt()")
            case ast.BinOp() | ast.UnaryOp() | ast.Compare() | ast.BoolOp():
                raise CalcError("only + - * / // % ** are allowed (use ** for powers, not ^)")
            case ast.Tuple():
                raise CalcError("commas are not allowed (write 1000000, not 1,000,000)")
        raise CalcError(f"{type(node).__name__} is not allowed: only numbers, + - * / // % ** ( ), abs(), sqrt()")

    def literal(self, node: ast.Constant) -> Fraction:
        # Use the literal's source text: 0.1 must mean one tenth, not the float nearest to it.
        text = (ast.get_source_segment(self.source, node) or repr(node.value)).replace("_", "")
        try:
            decimal = Decimal(text)
        except InvalidOperation:
            decimal = Decimal(repr(node.value))
        if not decimal.is_finite():
            raise CalcError("infinite numbers are not supported")
        if abs(decimal.adjusted()) > MAX_DECIMAL_EXPONENT:
            raise CalcError(f"number {text[:20]}… is too large or too small")
        return self.check(Fraction(decimal))

    def binary(self, op: ast.operator, a: Fraction, b: Fraction) -> Fraction:
        try:
            match op:
                case ast.Add():
                    return self.check(a + b)
                case ast.Sub():
                    return self.check(a - b)
                case ast.Mult():
                    if _bits(a) + _bits(b) > MAX_BITS + 64:
                        raise CalcError("the result is too large (more than about 60,000 digits)")
                    return self.check(a * b)
                case ast.Div():
                    return self.check(a / b)
                case ast.FloorDiv():
                    return self.check(Fraction(a // b))
                case ast.Mod():
                    return self.check(a % b)
                case ast.Pow():
                    return self.power(a, b)
                case ast.BitXor():
                    raise CalcError("^ is not a power here: use ** (2 ** 10)")
        except ZeroDivisionError:
            raise CalcError("division by zero") from None
        raise CalcError(f"operator {type(op).__name__} is not allowed: only + - * / // % **")

    def int_power(self, base: Fraction, exponent: int) -> Fraction:
        if base == 0 and exponent < 0:
            raise CalcError("division by zero (0 to a negative power)")
        if abs(base) != 1 and base != 0 and _bits(base) * abs(exponent) > MAX_BITS:
            raise CalcError("the result is too large (more than about 60,000 digits)")
        return self.check(base**exponent)

    def power(self, base: Fraction, exponent: Fraction) -> Fraction:
        if exponent.denominator == 1:
            return self.int_power(base, exponent.numerator)
        degree = exponent.denominator
        if degree > MAX_ROOT_DEGREE:
            raise CalcError("the exponent's denominator is too large")
        negative = base < 0
        if negative and degree % 2 == 0:
            raise CalcError("an even root of a negative number is not a real number")
        magnitude = abs(base)
        root_num, root_den = _iroot(magnitude.numerator, degree), _iroot(magnitude.denominator, degree)
        if root_num**degree == magnitude.numerator and root_den**degree == magnitude.denominator:
            root = Fraction(root_num, root_den)
        else:
            # Irrational: fall back to a 50-digit approximation and say so in the answer.
            self.approximate = True
            with localcontext() as ctx:
                ctx.prec = 50
                approx = (Decimal(magnitude.numerator) / Decimal(magnitude.denominator)) ** (
                    Decimal(1) / Decimal(degree)
                )
            root = Fraction(approx)
        return self.int_power(-root if negative else root, exponent.numerator)


def evaluate(expression: str) -> tuple[Fraction, bool]:
    """Evaluate an arithmetic expression exactly; returns (value, approximate). Never uses eval().

    Raises CalcError for anything but numbers, + - * / // % ** ( ), abs() and sqrt(), and past the size limits.
    """
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("−", "-")
    if not text:
        raise CalcError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression too long (more than {MAX_EXPRESSION_CHARS} characters)")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as error:
        raise CalcError(f"not a valid expression: {getattr(error, 'msg', error)}") from None
    except (RecursionError, MemoryError):
        raise CalcError("expression too deeply nested") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"expression too complex (more than {MAX_NODES} parts)")
    evaluator = _Evaluator(text)
    value = evaluator.eval(tree)
    return value, evaluator.approximate


def _approx(value: Fraction, digits: int = APPROX_DIGITS) -> str:
    with localcontext() as ctx:
        ctx.prec = digits
        return str(Decimal(value.numerator) / Decimal(value.denominator))


def format_number(value: Fraction, approximate: bool = False) -> str:
    """Exact when possible: an integer, a terminating decimal, or "p/q ≈ decimal"; "≈ …" when approximate."""
    if approximate:
        return f"≈ {_approx(value)}"
    num, den = value.numerator, value.denominator
    if den == 1:
        if num.bit_length() <= EXACT_DIGITS_SHOWN * 3.32:
            return str(num)
        digits = len(str(Decimal(abs(num))))  # Decimal has no int→str digit limit
        return f"≈ {_approx(value)} (an integer of {digits} digits)"
    twos, fives, rest = 0, 0, den
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    scale = max(twos, fives)
    if rest == 1 and scale <= EXACT_DIGITS_SHOWN and num.bit_length() <= EXACT_DIGITS_SHOWN * 3.32:
        scaled = abs(num) * 10**scale // den  # exact: den divides 10**scale
        whole, frac = divmod(scaled, 10**scale)
        return f"{'-' if num < 0 else ''}{whole}.{frac:0{scale}d}"
    if max(num.bit_length(), den.bit_length()) <= 200:
        return f"{num}/{den} ≈ {_approx(value)}"
    return f"≈ {_approx(value)}"


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, with no rounding errors (0.1 + 0.2 is exactly 0.3).

    Use it for any arithmetic beyond the trivial. Supports + - * / // (floor division) % (remainder)
    ** (power), parentheses, decimal and integer numbers (1e6 and 1_000_000 are fine), abs(x) and sqrt(x).
    Fractions stay exact: 1/3 returns "1/3 ≈ 0.333…". Irrational results (sqrt(2)) are marked "≈".
    No variables, functions other than abs/sqrt, or units.

    Args:
        expression: The expression, e.g. "(17.5 - 3) * 12 / 7" or "2 ** 100".
    """
    try:
        return format_number(*evaluate(expression))
    except CalcError as error:
        return f"error: {error}"
