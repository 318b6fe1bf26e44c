# want: py.network.smtplib
import smtplib
smtplib.SMTP("127.0.0.1")
